import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Bus, BusEvent, BusStats, EventHandler } from './bus.js';

/** Placeholder until the Redis stream bus lands (issue 4). */
export class RedisStreamBus implements Bus {
  readonly kind = 'redis' as const;
  constructor(_config: Config, _log: Logger) {
    throw new Error('Redis bus not implemented yet');
  }
  async publish(_b: readonly BusEvent[]): Promise<void> {}
  async start(_h: EventHandler): Promise<void> {}
  async check(): Promise<void> {}
  stats(): BusStats {
    return { eventsIn: 0, gaps: 0, malformed: 0, lagMs: 0 };
  }
  async close(): Promise<void> {}
}
