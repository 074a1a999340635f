import type { UWS } from '../uws.js';
import type { WorkerContext } from '../context.js';
import type { Registry } from '../fanout/index.js';
import type { SocketSet } from './close.js';
import { socketHandlers } from './socket-handlers.js';
import type { Subscriber } from './subscriber.js';
import { upgradeHandler } from './upgrade.js';

// ws/: GET /{api}/ws: the upgrade (validate and compile before the 101) and the socket handlers.
export { closeWith, type SocketSet } from './close.js';
export { validateHandshake, type Handshake, type HandshakeInput, type HandshakeLimits } from './handshake.js';
export type { Subscriber } from './subscriber.js';

/** uWS's idle timeout is the silence after which it pings (sendPingsAutomatically) and, if the
 * silence goes on as long again, closes; its granularity is 4 s, hence the rounding. */
function idleTimeout(pingInterval: number): number {
  return Math.max(8, Math.round(pingInterval / 4) * 4);
}

/** How far past SENDER_MAX_BACKPRESSURE uWS's own (abrupt) backlog bound sits; see below. */
const HARD_BACKLOG_MARGIN = 64 * 1024 * 1024;

/** Frames above this are cut off by uWS itself (abrupt close); up to it we answer 1009. */
const HARD_FRAME_LIMIT = 1024 * 1024;

/** Mounts `GET /{api}/ws` on every path; `sockets` is kept equal to the set of open sockets. */
export function mountWebSocket(app: UWS.TemplatedApp, paths: readonly string[], ctx: WorkerContext, registry: Registry, sockets: SocketSet): void {
  const { config } = ctx;
  const behavior: UWS.WebSocketBehavior<Subscriber> = {
    // uWS drops a frame over maxPayloadLength with an abrupt close (the peer sees 1006), so it is
    // set above our cap: frames up to HARD_FRAME_LIMIT reach `message` and get a proper 1009.
    maxPayloadLength: Math.max(HARD_FRAME_LIMIT, config.SENDER_MAX_INBOUND_FRAME + 1),
    idleTimeout: idleTimeout(config.SENDER_PING_INTERVAL),
    sendPingsAutomatically: true,
    // Slow consumers: uWS, past maxBackpressure, either skips messages silently or (with
    // closeOnBackpressureLimit) closes abruptly (1006). Neither may happen before our limit, so
    // uWS's bound sits HARD_BACKLOG_MARGIN above it: a hard stop reached only by a burst of that
    // size between two sweeps, while the fan-out's slow-consumer sweep closes sockets past
    // SENDER_MAX_BACKPRESSURE with 4008.
    maxBackpressure: config.SENDER_MAX_BACKPRESSURE + HARD_BACKLOG_MARGIN,
    closeOnBackpressureLimit: 1,
    compression: 0,
    upgrade: upgradeHandler(ctx, registry, sockets),
    ...socketHandlers(ctx, registry, sockets),
  };
  for (const path of paths) app.ws(path, behavior);
}
