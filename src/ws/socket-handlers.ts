import type { ExpiryWheel } from '../auth/index.js';
import type { WorkerContext } from '../context.js';
import { CloseCodes } from '../errors.js';
import type { Registry } from '../fanout/index.js';
import type { History } from '../history/index.js';
import type { UWS } from '../uws.js';
import type { SocketSet } from './close.js';
import type { AccountConnections } from './per-account.js';
import { Replay, type ReplayScheduler } from './replay.js';
import type { Subscriber } from './subscriber.js';

type Behavior = UWS.WebSocketBehavior<Subscriber>;

/**
 * open, message, drain and close of a subscriber socket: join (or, resumed, replay and then join)
 * and leave the filter's topic, log, count.
 */
export function socketHandlers(
  ctx: WorkerContext,
  registry: Registry,
  sockets: SocketSet,
  replays: ReplayScheduler,
  history: History,
  perAccount: AccountConnections,
  expiry: ExpiryWheel<UWS.WebSocket<Subscriber>>,
): Pick<Behavior, 'open' | 'message' | 'drain' | 'close'> {
  const { log, metrics, plugins } = ctx;
  return {
    open(ws) {
      const sub = ws.getUserData();
      if (sub.resume !== undefined) {
        // Not in the topic yet: the replay joins it once it has caught up (ws/replay.ts).
        sub.replay = new Replay(ws, history, registry, metrics, sub.pre, sub.resume);
        replays.add(sub.replay);
      } else {
        sub.topic = registry.subscribe(sub.account, sub.filterKey, sub.compiled, sub.positions);
        ws.subscribe(sub.topic);
      }
      sockets.add(ws);
      perAccount.opened(sub.account);
      if (sub.expiresAt !== Number.POSITIVE_INFINITY) sub.expiryBucket = expiry.add(ws, sub.expiresAt);
      metrics.connections++;
      log.info({ request_id: sub.requestId, account_id: sub.account, filter: sub.filterKey }, 'ws open');
      plugins.emitConnect({ account: sub.account, requestId: sub.requestId, filterKey: sub.filterKey });
    },

    // Client frames carry nothing for us. Their size is bounded by uWS (maxPayloadLength, see
    // ws/index.ts): a message that reaches this handler is within SENDER_MAX_INBOUND_FRAME.
    message() {},

    drain(ws) {
      replays.drained(ws.getUserData().replay);
    },

    close(ws, code) {
      const sub = ws.getUserData();
      const byUs = sub.closed;
      sub.closed = true;
      sockets.delete(ws);
      perAccount.closed(sub.account);
      if (sub.expiresAt !== Number.POSITIVE_INFINITY) expiry.remove(ws, sub.expiryBucket);
      if (sub.replay !== undefined) {
        replays.remove(sub.replay);
        sub.replay = undefined;
      }
      if (sub.topic !== '') registry.unsubscribe(sub.account, sub.filterKey, sub.positions);
      // Every close, whoever started it: clients (1000, 1005), our shutdown (1001), uWS cutting a
      // socket off at its backlog bound, idle timeout or payload limit (1006), our slow-consumer limit (4008).
      metrics.countClose(code);
      // Only ours: a client may send 4008 itself.
      if (byUs && code === CloseCodes.SlowConsumer.code) metrics.slowConsumerCloses++;
      log.info({ request_id: sub.requestId, account_id: sub.account, code, duration_ms: Date.now() - sub.openedAt }, 'ws close');
      plugins.emitDisconnect({ account: sub.account, requestId: sub.requestId, filterKey: sub.filterKey }, code);
    },
  };
}
