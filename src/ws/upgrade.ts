import type { WorkerContext } from '../context.js';
import { Errors, LunaError, statusLine } from '../errors.js';
import { checkRequestId } from '../events/index.js';
import type { Compiled, Registry } from '../fanout/index.js';
import { readHeaders } from '../http/headers.js';
import type { UWS } from '../uws.js';
import type { SocketSet } from './close.js';
import { validateHandshake } from './handshake.js';
import type { Subscriber } from './subscriber.js';

/**
 * The upgrade handler of `GET /{api}/ws`: everything is decided before the 101. The handshake is
 * validated (SPEC order), the connection limit checked and the filter compiled here; any failure
 * is an ordinary HTTP error response. Only a subscription that can work gets a socket.
 */
export function upgradeHandler(ctx: WorkerContext, registry: Registry, sockets: SocketSet): NonNullable<UWS.WebSocketBehavior<Subscriber>['upgrade']> {
  const { config, log, metrics } = ctx;
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
    // First of all (and the connection closed after, as its framing is in doubt): a repeated header.
    if (problem !== undefined) return refuse(problem, checkRequestId(undefined).id, true);
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
    const sub: Subscriber = {
      account: result.account,
      requestId: result.requestId,
      filter: result.filter,
      filterKey: result.filterKey,
      compiled,
      openedAt: started,
      topic: '',
      closed: false,
    };
    res.cork(() => {
      // The status must be written before any header, or uWS answers 200 and the upgrade fails.
      res.writeStatus('101 Switching Protocols').writeHeader('Luna-Request-Id', result.requestId);
      // No subprotocol is selected: the gateway speaks none, and echoing the client's offer would
      // claim one it does not (RFC 6455 4.2.2). '' makes uWS write no Sec-WebSocket-Protocol.
      res.upgrade(sub, secKey, '', secExtensions, context);
    });
  };
}
