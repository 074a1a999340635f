import type { UWS } from '../uws.js';
import { CloseCodes, Errors, LunaError, statusLine } from '../errors.js';
import type { WorkerContext } from '../context.js';
import type { Registry } from '../fanout/registry.js';
import { REQUEST_ID_RE, newRequestId } from '../http/request-id.js';
import { validateHandshake } from './handshake.js';
import type { Subscriber } from './subscriber.js';

/** uWS's idle timeout is the silence after which it pings (sendPingsAutomatically) and, if the
 * silence goes on as long again, closes; its granularity is 4 s, hence the rounding. */
function idleTimeout(pingInterval: number): number {
  return Math.max(8, Math.round(pingInterval / 4) * 4);
}

/** How far past SENDER_MAX_BACKPRESSURE uWS's own (abrupt) backlog bound sits; see below. */
const HARD_BACKLOG_MARGIN = 64 * 1024 * 1024;

/** Frames above this are cut off by uWS itself (abrupt close); up to it we answer 1009. */
const HARD_FRAME_LIMIT = 1024 * 1024;

export function closeWith(ws: UWS.WebSocket<Subscriber>, c: { code: number; reason: string }): void {
  const sub = ws.getUserData();
  if (sub.closed) return;
  sub.closed = true;
  // Nothing more may pile up behind the close frame, or uWS's hard backpressure bound would cut the
  // socket off abruptly (1006) before the client reads our code.
  if (sub.topic !== '') ws.unsubscribe(sub.topic);
  ws.end(c.code, c.reason);
}

/**
 * Closes every socket whose unsent data passed `limit` with 4008. The close frame queues behind
 * the backlog; a consumer that never reads again is cut off by uWS's hard bound or idle timeout.
 * Returns how many were closed. Cost: one getBufferedAmount per open socket, so the caller runs it
 * only after deliveries happened.
 */
export function sweepSlowConsumers(sockets: SocketSet, limit: number): number {
  let closed = 0;
  for (const ws of sockets.open) {
    if (ws.getBufferedAmount() > limit) {
      closeWith(ws, CloseCodes.SlowConsumer);
      closed++;
    }
  }
  return closed;
}

export interface SocketSet {
  readonly open: Set<UWS.WebSocket<Subscriber>>;
}

/** Mounts `GET /{api}/ws` for every api prefix. */
export function mountWebSocket(app: UWS.TemplatedApp, paths: readonly string[], ctx: WorkerContext, registry: Registry, sockets: SocketSet): void {
  const { config, log, metrics, plugins } = ctx;
  const limits = { maxQueryBytes: config.SENDER_MAX_QUERY_BYTES, maxListItems: config.SENDER_MAX_LIST_ITEMS };

  const behavior: UWS.WebSocketBehavior<Subscriber> = {
    // uWS drops a frame over maxPayloadLength with an abrupt close (the peer sees 1006), so it is
    // set above our cap: frames up to HARD_FRAME_LIMIT reach `message` and get a proper 1009.
    maxPayloadLength: Math.max(HARD_FRAME_LIMIT, config.SENDER_MAX_INBOUND_FRAME + 1),
    idleTimeout: idleTimeout(config.SENDER_PING_INTERVAL),
    sendPingsAutomatically: true,
    // Slow consumers: uWS, past maxBackpressure, either skips messages silently or (with
    // closeOnBackpressureLimit) closes abruptly (1006). Neither may happen before our limit, so
    // uWS's bound sits HARD_BACKLOG_MARGIN above it: a hard stop reached only by a burst of that
    // size between two sweeps, while `sweepSlowConsumers` closes sockets past
    // SENDER_MAX_BACKPRESSURE with 4008.
    maxBackpressure: config.SENDER_MAX_BACKPRESSURE + HARD_BACKLOG_MARGIN,
    closeOnBackpressureLimit: 1,
    compression: 0,

    upgrade(res, req, context) {
      // Copy everything out of req now: it is invalid after this synchronous handler returns.
      const input = {
        query: req.getQuery() ?? '',
        accountHeader: req.getHeader('luna-account-id') || undefined,
        requestIdHeader: req.getHeader('luna-request-id') || undefined,
      };
      const secKey = req.getHeader('sec-websocket-key');
      const secProtocol = req.getHeader('sec-websocket-protocol');
      const secExtensions = req.getHeader('sec-websocket-extensions');
      const path = req.getUrl();
      const started = Date.now();

      const result = validateHandshake(input, limits);
      const refuse = (err: LunaError, requestId: string) => {
        res.cork(() => {
          res.writeStatus(statusLine(err.status)).writeHeader('Luna-Request-Id', requestId).writeHeader('Content-Type', 'application/json').end(err.body());
        });
        log.info({ request_id: requestId, method: 'GET', path, status: err.status, error_code: err.def.code, duration_ms: Date.now() - started }, 'request');
      };
      if (result instanceof LunaError) {
        const rid = input.requestIdHeader;
        return refuse(result, rid !== undefined && REQUEST_ID_RE.test(rid) ? rid : newRequestId());
      }
      // uWS calls `open` from inside `res.upgrade`, so the open set is exact here.
      if (sockets.open.size >= config.SENDER_MAX_CONNECTIONS) {
        metrics.connectionsRefused++;
        return refuse(new LunaError(Errors.TooManyConnections, `This worker holds its limit of ${config.SENDER_MAX_CONNECTIONS} connections; retry later`), result.requestId);
      }
      const sub: Subscriber = {
        account: result.account,
        requestId: result.requestId,
        filter: result.filter,
        filterKey: result.filterKey,
        openedAt: started,
        topic: '',
        closed: false,
      };
      res.cork(() => {
        // The status must be written before any header, or uWS answers 200 and the upgrade fails.
        res.writeStatus('101 Switching Protocols').writeHeader('Luna-Request-Id', result.requestId);
        res.upgrade(sub, secKey, secProtocol, secExtensions, context);
      });
    },

    open(ws) {
      const sub = ws.getUserData();
      sub.topic = registry.subscribe(sub.account, sub.filter, sub.filterKey);
      ws.subscribe(sub.topic);
      sockets.open.add(ws);
      metrics.connections++;
      log.info({ request_id: sub.requestId, account_id: sub.account, filter: sub.filterKey }, 'ws open');
      plugins.emitConnect({ account: sub.account, requestId: sub.requestId, filterKey: sub.filterKey });
    },

    // Client frames carry nothing for us; only their size is checked.
    message(ws, message) {
      if (message.byteLength > config.SENDER_MAX_INBOUND_FRAME) closeWith(ws, CloseCodes.MessageTooBig);
    },

    close(ws, code) {
      const sub = ws.getUserData();
      const byUs = sub.closed;
      sub.closed = true;
      sockets.open.delete(ws);
      registry.unsubscribe(sub.account, sub.filterKey);
      if (byUs && code === CloseCodes.SlowConsumer.code) metrics.slowConsumerCloses++;
      log.info({ request_id: sub.requestId, account_id: sub.account, code, duration_ms: Date.now() - sub.openedAt }, 'ws close');
      plugins.emitDisconnect({ account: sub.account, requestId: sub.requestId, filterKey: sub.filterKey }, code);
    },
  };
  for (const path of paths) app.ws(path, behavior);
}

