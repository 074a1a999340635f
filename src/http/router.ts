import { Errors, LunaError } from '../errors.js';
import type { Logger } from '../log.js';
import type { UWS } from '../uws.js';
import type { HttpDrain } from './drain.js';
import { Exchange } from './exchange.js';
import { type OriginPolicy, originProblem, PREFLIGHT_HEADERS } from './origins.js';

export type Handler = (ex: Exchange) => void | Promise<void>;
/** path -> method -> handler; paths are exact (no patterns), so lookups are one Map.get. */
export type RouteTable = Map<string, Partial<Record<string, Handler>>>;

export function addRoute(table: RouteTable, method: string, path: string, handler: Handler): void {
  const methods = table.get(path) ?? {};
  methods[method] = handler;
  table.set(path, methods);
}

/**
 * Serves every plain HTTP request through one uWS catch-all, so that the request id check, 404,
 * 405 and the error-to-response mapping live in one place. WebSocket upgrades are matched earlier
 * by the uWS `ws` routes; a non-upgrade GET on those paths reaches this table (426). With a `drain`,
 * every request is counted from arrival until its handler settled (the worker's shutdown waits).
 * With `count`, every answer is counted by route (the table's path, `unmatched` for the rest) and status.
 */
export function mountRoutes(
  app: UWS.TemplatedApp,
  table: RouteTable,
  log: Logger,
  drain?: HttpDrain,
  origins?: OriginPolicy,
  count?: (route: string, status: number) => void,
): void {
  app.any('/*', (res, req) => {
    const ex = new Exchange(res, req, log, drain, origins, count);
    const methods = table.get(ex.path);
    // Paths are exact, so the matched path is the route pattern; anything else shares one label.
    if (methods !== undefined) ex.route = ex.path;
    const headerError = ex.headerError();
    if (headerError && ex.framingInDoubt) return answerLater(ex, headerError);
    if (headerError) return ex.error(headerError);
    if (methods === undefined) {
      return ex.error(new LunaError(Errors.NotFound, `Resource '${ex.path}' not found`));
    }
    if (ex.method === 'OPTIONS' && ex.headers.origin !== undefined && origins !== undefined) return preflight(ex, methods, origins);
    // HEAD is GET without the body (Exchange.send leaves it out).
    const handler = methods[ex.method] ?? (ex.method === 'HEAD' ? methods.GET : undefined);
    if (handler === undefined) {
      const allow = allowed(methods);
      return ex.error(new LunaError(Errors.MethodNotAllowed, `Method '${ex.method}' is not allowed on '${ex.path}'; allowed: ${allow}`), { Allow: allow });
    }
    run(ex, handler, log, drain);
  });
}

/**
 * A request whose end is in doubt is answered one event-loop step later. uWS 20.30 goes on parsing
 * the bytes it already read after a request even when its answer shut the connection down
 * (`end(body, true)`), so an answer given at once would let a request hidden behind the doubtful
 * framing be served (test/integration/hostile-http.test.ts). While an answer is pending, uWS drops
 * the connection unanswered when it finds such bytes; without them the 400 goes out and closes.
 */
function answerLater(ex: Exchange, err: LunaError): void {
  setImmediate(() => ex.error(err));
}

function allowed(methods: Partial<Record<string, Handler>>): string {
  return [...Object.keys(methods), ...('GET' in methods ? ['HEAD'] : [])].join(', ');
}

/** A CORS preflight (an OPTIONS with `Origin`) on a known path: 204 allowing its methods, or 403 for another origin. */
function preflight(ex: Exchange, methods: Partial<Record<string, Handler>>, origins: OriginPolicy): void {
  const refused = originProblem(origins, ex.headers.origin);
  if (refused !== undefined) ex.error(refused);
  else ex.send(204, undefined, '', { 'Access-Control-Allow-Methods': allowed(methods), ...PREFLIGHT_HEADERS });
}

function run(ex: Exchange, handler: Handler, log: Logger, drain: HttpDrain | undefined): void {
  drain?.begin();
  try {
    const out = handler(ex);
    if (out instanceof Promise) {
      out.catch((err: unknown) => fail(ex, err, log)).finally(() => drain?.end());
      return;
    }
  } catch (err) {
    fail(ex, err, log);
  }
  drain?.end();
}

/** LunaErrors are answers; anything else is a bug: logged with its stack, answered without it. */
export function fail(ex: Exchange, err: unknown, log: Logger): void {
  if (err instanceof LunaError) {
    ex.error(err);
    return;
  }
  log.error({ request_id: ex.requestId, err }, 'unhandled error in request handler');
  ex.error(new LunaError(Errors.Internal, 'Internal server error'));
}
