import { type Authenticated, SUBPROTOCOL } from '../auth/index.js';
import { BusUnavailableError } from '../bus/index.js';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError, statusLine } from '../errors.js';
import { checkRequestId } from '../events/index.js';
import type { Compiled, Registry } from '../fanout/index.js';
import { type Entry, formatToken } from '../history/index.js';
import { readHeaders } from '../http/headers.js';
import { originProblem } from '../http/origins.js';
import type { UWS } from '../uws.js';
import type { SocketSet } from './close.js';
import { validateHandshake } from './handshake.js';
import type { AccountConnections } from './per-account.js';
import { checkResume, type ResumeCheck, type ResumeContext } from './resume.js';
import type { Subscriber } from './subscriber.js';

/**
 * The upgrade handler of `GET /{api}/ws`: everything is decided before the 101. The handshake is
 * validated (SPEC order; with SENDER_AUTH=jwt the token first, asynchronously unless cached), the
 * connection limits checked and the filter compiled here; any failure is an ordinary HTTP error
 * response. Only a subscription that can work gets a socket.
 */
export function upgradeHandler(
  ctx: WorkerContext,
  registry: Registry,
  sockets: SocketSet,
  perAccount: AccountConnections,
  rc: ResumeContext,
): NonNullable<UWS.WebSocketBehavior<Subscriber>['upgrade']> {
  const { config, log, metrics, auth, origins } = ctx;
  const limits = { maxQueryBytes: config.SENDER_MAX_QUERY_BYTES, maxListItems: config.SENDER_MAX_LIST_ITEMS };
  const perAccountLimit = config.SENDER_MAX_CONNECTIONS_PER_ACCOUNT;

  return (res, req, context) => {
    // Copy everything out of req now: it is invalid after this synchronous handler returns.
    // The same header reader as every HTTP route, so a repeated header line is refused here too.
    const { values: headers, problem } = readHeaders(req);
    const query = req.getQuery() ?? '';
    const input = {
      query,
      accountHeader: headers['luna-account-id'] || undefined,
      requestIdHeader: headers['luna-request-id'] || undefined,
    };
    const carriers = { authorization: headers.authorization, protocols: headers['sec-websocket-protocol'], query };
    const secKey = headers['sec-websocket-key'] ?? '';
    const secExtensions = headers['sec-websocket-extensions'] ?? '';
    const path = req.getUrl();
    const started = Date.now();
    // One abort flag for every asynchronous step (token, resume): uWS keeps one onAborted handler.
    let aborted = false;
    let watching = false;
    const watchAbort = () => {
      if (watching) return;
      watching = true;
      res.onAborted(() => {
        aborted = true;
      });
    };

    const refuse = (err: LunaError, requestId: string, close = false) => {
      if (aborted) return;
      metrics.countUpgradeRefused(err.def.code);
      res.cork(() => {
        res.writeStatus(statusLine(err.status)).writeHeader('Luna-Request-Id', requestId).writeHeader('Content-Type', 'application/json');
        const extra = err.def.headers;
        if (extra !== undefined) for (const k in extra) res.writeHeader(k, extra[k]);
        res.end(err.body(), close);
      });
      // The path only: the query may hold an access_token, which is never logged.
      log.info({ request_id: requestId, method: 'GET', path, status: err.status, error_code: err.def.code, duration_ms: Date.now() - started }, 'request');
    };
    // First of all (and the connection closed after, as its framing is in doubt): a repeated header
    // or untrusted framing; answered a step later for the reason in http/router.ts answerLater.
    if (problem !== undefined) {
      watchAbort();
      setImmediate(() => refuse(problem, checkRequestId(undefined).id, true));
      return;
    }
    // SPEC 10 order: the request id, then (a page of an origin that is not allowed gets no socket)
    // the origin, then the token, then the rest (validateHandshake).
    const rid = checkRequestId(input.requestIdHeader);
    const early = rid.error ?? originProblem(origins, headers.origin);
    if (early !== undefined) return refuse(early, rid.id);
    if (auth === undefined) return proceed(undefined);
    const checked = auth.authenticate(carriers);
    if (!(checked instanceof Promise)) return proceed(checked);
    watchAbort();
    checked.then(
      (a) => {
        if (!aborted) proceed(a);
      },
      (err: unknown) => {
        log.error({ request_id: rid.id, err }, 'token check failed');
        refuse(new LunaError(Errors.Internal, 'The token could not be checked'), rid.id);
      },
    );

    function proceed(authed: Authenticated | LunaError | undefined) {
      if (authed instanceof LunaError) return refuse(authed, rid.id);
      const result = validateHandshake(authed === undefined ? input : { ...input, query: authed.carried.query, grant: authed.grant }, limits);
      if (result instanceof LunaError) return refuse(result, rid.id);
      if (sockets.size >= config.SENDER_MAX_CONNECTIONS) {
        metrics.connectionsRefused++;
        return refuse(
          new LunaError(Errors.TooManyConnections, `This worker holds its limit of ${config.SENDER_MAX_CONNECTIONS} connections; retry later`),
          result.requestId,
        );
      }
      if (perAccountLimit > 0 && perAccount.count(result.account) >= perAccountLimit) {
        metrics.connectionsRefused++;
        return refuse(
          new LunaError(
            Errors.TooManyConnections,
            `This worker holds the account's limit of ${perAccountLimit} connections (SENDER_MAX_CONNECTIONS_PER_ACCOUNT); retry later`,
          ),
          result.requestId,
        );
      }
      let compiled: Compiled;
      try {
        compiled = registry.prepare(result.filters, result.filterKey);
      } catch (err) {
        log.error({ request_id: result.requestId, filter: result.filterKey, err }, 'filter could not be compiled');
        return refuse(new LunaError(Errors.Internal, 'The filter could not be compiled'), result.requestId);
      }
      // Answered only when the client carried its token there (SPEC 10); otherwise none is selected.
      const protocol = authed?.carried.subprotocol === true ? SUBPROTOCOL : '';
      const accept = (pre: Entry[]) => {
        if (aborted) return;
        const sub: Subscriber = {
          account: result.account,
          requestId: result.requestId,
          filters: result.filters,
          filterKey: result.filterKey,
          compiled,
          positions: result.positions,
          resume: result.resume,
          pre,
          openedAt: started,
          expiresAt: authed === undefined ? Number.POSITIVE_INFINITY : authed.grant.expiresAt,
          expiryBucket: 0,
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
          // No subprotocol is selected unless the token came in the list: the gateway speaks none, and
          // echoing the client's offer would claim one it does not (RFC 6455 4.2.2). '' makes uWS
          // write no Sec-WebSocket-Protocol.
          res.upgrade(sub, secKey, protocol, secExtensions, context);
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
      watchAbort();
      check.then(
        (c) => {
          if (!aborted) decided(c);
        },
        (err: unknown) => {
          const reason = err instanceof BusUnavailableError ? err.message : 'bus error';
          refuse(new LunaError(Errors.Unavailable, `Cannot check the resume position now: ${reason}`), result.requestId);
        },
      );
    }
  };
}
