// bus/: the interface with its contract (bus.ts) and its implementations only: in-process
// (memory.ts) and the Redis stream (a publisher and a reader), plus the stream entry format.
export {
  type Bus,
  type BusEvent,
  type BusPosition,
  type BusStats,
  BusUnavailableError,
  BusUnconfirmedError,
  compareIds,
  type DeliveredEvent,
  type EventHandler,
  idMs,
  type PublishOptions,
  type Retention,
} from './bus.js';
export { createBus } from './create.js';
export { decodeEntry } from './entry.js';
export { backoffMs, createRedis, redisReason, withTimeout } from './redis-client.js';
