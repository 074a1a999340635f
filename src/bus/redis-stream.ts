import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Bus, BusEvent, BusPosition, BusStats, DeliveredEvent, EventHandler, PublishOptions, Retention } from './bus.js';
import { RedisHistory } from './redis-history.js';
import { RedisPublisher } from './redis-publisher.js';
import { RedisReader, type RedisStreamBusOptions } from './redis-reader.js';

export type { RedisStreamBusOptions } from './redis-reader.js';

/**
 * The Redis stream bus (SPEC section 6): a publisher that appends batches atomically with a
 * deadline, and a reader that blocks in XREAD from this worker's own last id. Two connections,
 * because a blocking XREAD would hold every publish behind it.
 */
export class RedisStreamBus implements Bus {
  readonly kind = 'redis' as const;
  private readonly publisher: RedisPublisher;
  private readonly reader: RedisReader;
  private readonly history: RedisHistory;
  private closing: Promise<void> | undefined;

  constructor(config: Config, log: Logger, options: RedisStreamBusOptions = {}) {
    this.publisher = new RedisPublisher(config, log);
    this.reader = new RedisReader(config, log, options);
    this.history = new RedisHistory(config);
  }

  publish(batch: readonly BusEvent[], timeoutMs: number, options?: PublishOptions): Promise<void> {
    return this.publisher.publish(batch, timeoutMs, options);
  }

  start(onEvent: EventHandler, onEpoch?: (epoch: string) => void): Promise<void> {
    return this.reader.start(onEvent, onEpoch);
  }

  position(): BusPosition {
    return this.reader.position();
  }

  range(afterId: string, uptoId: string, timeoutMs: number): Promise<DeliveredEvent[]> {
    return this.history.range(afterId, uptoId, timeoutMs);
  }

  retained(id: string, timeoutMs: number): Promise<Retention> {
    return this.history.retained(id, timeoutMs);
  }

  check(timeoutMs: number): Promise<void> {
    return this.publisher.check(timeoutMs);
  }

  stats(): BusStats {
    return this.reader.stats();
  }

  /** Every part at once: each refuses new work synchronously, then releases its connection. */
  close(): Promise<void> {
    this.history.close();
    this.closing ??= Promise.all([this.reader.close(), this.publisher.close()]).then(() => undefined);
    return this.closing;
  }
}
