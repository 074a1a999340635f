import { BusUnavailableError } from '../bus/index.js';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError, statusLine } from '../errors.js';
import { checkRequestId } from '../events/index.js';
import type { Compiled, Registry } from '../fanout/index.js';
import { type Entry, formatToken } from '../history/index.js';
import { readHeaders } from '../http/headers.js';
import { originProblem, parseOrigins } from '../http/origins.js';
import type { UWS } from '../uws.js';
import type { SocketSet } from './close.js';
import { validateHandshake } from './handshake.js';
import { checkResume, type ResumeCheck, type ResumeContext } from './resume.js';
import type { Subscriber } from './subscriber.js';

/**
 * The upgrade handler of `GET /{api}/ws`: everything is decided before the 101. The handshake is
 * validated (SPEC order), the connection limit checked and the filter compiled here; any failure
 * is an ordinary HTTP error response. Only a subscription that can work gets a socket.
 */
export function upgradeHandler(
  ctx: WorkerContext,
  registry: Registry,
  sockets: SocketSet,
  rc: ResumeContext,
): NonNullable<UWS.WebSocketBehavior<Subscriber>['upgrade']> {
  const { config, log, metrics } = ctx;
  const origins = parseOrigins(config.SENDER_ALLOWED_ORIGINS);
  const limits = { maxQueryBytes: config.SENDER_MAX_QUERY_BYTES, maxListItems: config.SENDER_MAX_LIST_ITEMS };

  return (res, req, context) => {
    // Copy everything out of req now: it is invalid after this synchronous handler returns.
    // The same header reader as every HTTP route, so a repeated header line is refused here too.
    const { values: headers, problem } = readHeaders(req);
    const input = {
      query: req.getQuery() ?? '',
      accountHeader: headers['luna-account-id'] || undefined,
      requestIdHeader: headers['luna-request-id'] || undefined,
    };
    const secKey = headers['sec-websocket-key'] ?? '';
    const secExtensions = headers['sec-websocket-extensions'] ?? '';
    const path = req.getUrl();
    const started = Date.now();

    const refuse = (err: LunaError, requestId: string, close = false) => {
      res.cork(() => {
        res
          .writeStatus(statusLine(err.status))
          .writeHeader('Luna-Request-Id', requestId)
          .writeHeader('Content-Type', 'application/json')
          .end(err.body(), close);
      });
      log.info({ request_id: requestId, method: 'GET', path, status: err.status, error_code: err.def.code, duration_ms: Date.now() - started }, 'request');
    };
    // First of all (and the connection closed after, as its framing is in doubt): a repeated header
    // or untrusted framing; answered a step later for the reason in http/router.ts answerLater.
    if (problem !== undefined) {
      let gone = false;
      res.onAborted(() => (gone = true));
      setImmediate(() => gone || refuse(problem, checkRequestId(undefined).id, true));
      return;
    }
    // SPEC 10: a page of an origin that is not allowed gets no socket (after the request id check).
    const rid = checkRequestId(input.requestIdHeader);
    const early = rid.error ?? originProblem(origins, headers.origin);
    if (early !== undefined) return refuse(early, rid.id);
    const result = validateHandshake(input, limits);
    if (result instanceof LunaError) return refuse(result, checkRequestId(input.requestIdHeader).id);
    if (sockets.size >= config.SENDER_MAX_CONNECTIONS) {
      metrics.connectionsRefused++;
      return refuse(
        new LunaError(Errors.TooManyConnections, `This worker holds its limit of ${config.SENDER_MAX_CONNECTIONS} connections; retry later`),
        result.requestId,
      );
    }
    let compiled: Compiled;
    try {
      compiled = registry.prepare(result.filter, result.filterKey);
    } catch (err) {
      log.error({ request_id: result.requestId, filter: result.filterKey, err }, 'filter could not be compiled');
      return refuse(new LunaError(Errors.Internal, 'The filter could not be compiled'), result.requestId);
    }
    const accept = (pre: Entry[]) => {
      const sub: Subscriber = {
        account: result.account,
        requestId: result.requestId,
        filter: result.filter,
        filterKey: result.filterKey,
        compiled,
        positions: result.positions,
        resume: result.resume,
        pre,
        openedAt: started,
        topic: '',
        replay: undefined,
        closed: false,
      };
      // SPEC 9: everything after this position is delivered and nothing at or before it. Read in
      // the same synchronous step as `open` (called from inside res.upgrade) joins the topic.
      const h = rc.history;
      const position = result.resume !== undefined ? formatToken(result.resume.epoch, result.resume.id) : formatToken(h.epoch, h.lastId);
      res.cork(() => {
        // The status must be written before any header, or uWS answers 200 and the upgrade fails.
        res.writeStatus('101 Switching Protocols').writeHeader('Luna-Request-Id', result.requestId).writeHeader('Luna-Stream-Position', position);
        // No subprotocol is selected: the gateway speaks none, and echoing the client's offer would
        // claim one it does not (RFC 6455 4.2.2). '' makes uWS write no Sec-WebSocket-Protocol.
        res.upgrade(sub, secKey, '', secExtensions, context);
      });
    };
    if (result.resume === undefined) return accept([]);

    // resume: decided before the 101; usually at once, from this worker's history.
    const decided = (check: ResumeCheck) => {
      if (check.ok) {
        metrics.resumesAccepted++;
        return accept(check.pre);
      }
      metrics.resumesRefused++;
      refuse(check.error, result.requestId);
    };
    const check = checkResume(result.resume, { account: result.account, compiled }, rc);
    if (!(check instanceof Promise)) return decided(check);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    check.then(
      (c) => {
        if (!aborted) decided(c);
      },
      (err: unknown) => {
        if (aborted) return;
        const reason = err instanceof BusUnavailableError ? err.message : 'bus error';
        refuse(new LunaError(Errors.Unavailable, `Cannot check the resume position now: ${reason}`), result.requestId);
      },
    );
  };
}
