// bus/: the interface with its contract (bus.ts) and its implementations only: in-process
// (memory.ts) and the Redis stream (a publisher and a reader), plus the stream entry format.
export { BusUnavailableError, type Bus, type BusEvent, type BusStats, type EventHandler } from './bus.js';
export { createBus } from './create.js';
export { decodeEntry } from './entry.js';
export { createRedis, redisReason, withTimeout, backoffMs } from './redis-client.js';
