import type { ExpiryWheel } from '../auth/index.js';
import type { WorkerContext } from '../context.js';
import type { Registry } from '../fanout/index.js';
import type { History } from '../history/index.js';
import type { UWS } from '../uws.js';
import type { SocketSet } from './close.js';
import { AccountConnections } from './per-account.js';
import type { ReplayScheduler } from './replay.js';
import { socketHandlers } from './socket-handlers.js';
import type { Subscriber } from './subscriber.js';
import { upgradeHandler } from './upgrade.js';

// ws/: GET /{api}/ws: the upgrade (validate and compile before the 101) and the socket handlers.
export { closeWith, type SocketSet } from './close.js';
export { type Handshake, type HandshakeInput, type HandshakeLimits, validateHandshake } from './handshake.js';
export { ReplayScheduler } from './replay.js';
export type { Subscriber } from './subscriber.js';

/** uWS's idle timeout is the silence after which it pings (sendPingsAutomatically) and, if the
 * silence goes on as long again, closes; its granularity is 4 s, hence the rounding. */
function idleTimeout(pingInterval: number): number {
  return Math.max(8, Math.round(pingInterval / 4) * 4);
}

/** How far past SENDER_MAX_BACKPRESSURE uWS's own (abrupt) backlog bound sits; see below. */
const HARD_BACKLOG_MARGIN = 64 * 1024 * 1024;

/** Mounts `GET /{api}/ws` on every path; `sockets` is kept equal to the set of open sockets. */
/** What resumed subscriptions need (SPEC 9): the worker's history and its replay scheduler. */
export interface Resumption {
  readonly history: History;
  readonly replays: ReplayScheduler;
  /** Sockets by token expiry (SENDER_AUTH=jwt); the worker sweeps it and closes them with 4001. */
  readonly expiry: ExpiryWheel<UWS.WebSocket<Subscriber>>;
}

export function mountWebSocket(
  app: UWS.TemplatedApp,
  paths: readonly string[],
  ctx: WorkerContext,
  registry: Registry,
  sockets: SocketSet,
  { history, replays, expiry }: Resumption,
): void {
  const perAccount = new AccountConnections();
  const { config, bus } = ctx;
  const rc = { history, bus, windowMs: config.SENDER_RESUME_WINDOW * 1000, timeoutMs: config.SENDER_REDIS_TIMEOUT * 1000 };
  const behavior: UWS.WebSocketBehavior<Subscriber> = {
    // maxPayloadLength bounds what uWS buffers for one socket's incoming message, fragments included,
    // so it is our cap itself. Checked with uWS 20.30 and a raw client (limits.test.ts): a single
    // frame, or a fragment sequence without FIN whose total passes the limit, is refused as soon as
    // the frame header announcing the excess arrives (before its payload): uWS closes the TCP
    // connection without a close frame (the client sees 1006; our close handler gets 1006 'Received
    // too big message'). It used to sit at 1 MiB so that frames up to that size reached `message`
    // and got a readable 1009, but an unfinished fragmented message was then held up to 1 MiB per
    // socket for as long as the socket lived (100 sockets: 80 MB); the bound matters more.
    maxPayloadLength: config.SENDER_MAX_INBOUND_FRAME,
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
    upgrade: upgradeHandler(ctx, registry, sockets, perAccount, rc),
    ...socketHandlers(ctx, registry, sockets, replays, history, perAccount, expiry),
  };
  for (const path of paths) app.ws(path, behavior);
}
