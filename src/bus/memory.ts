import { type Bus, type BusEvent, type BusStats, BusUnavailableError, type EventHandler } from './bus.js';

/**
 * In-process bus for the single-process embedded mode (no REDIS_URL). Publishing is synchronous
 * into a queue that is drained on the next microtask, so `publish` resolves before delivery, as the
 * Redis bus does, and a batch is delivered contiguously because nothing can interleave a drain.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private handler: EventHandler | undefined;
  private queue: BusEvent[] = [];
  private draining = false;
  private eventsIn = 0;
  private closed = false;

  async publish(batch: readonly BusEvent[]): Promise<void> {
    if (this.closed) throw new BusUnavailableError('memory bus: closed');
    for (const ev of batch) this.queue.push(ev);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.drain());
    }
  }

  private drain(): void {
    const queue = this.queue;
    this.queue = [];
    this.draining = false;
    const handler = this.handler;
    if (handler === undefined) return;
    for (const ev of queue) {
      this.eventsIn++;
      handler(ev);
    }
  }

  async start(onEvent: EventHandler): Promise<void> {
    this.handler = onEvent;
  }

  async check(): Promise<void> {
    if (this.closed) throw new Error('memory bus: closed');
  }

  stats(): BusStats {
    return { eventsIn: this.eventsIn, gaps: 0, malformed: 0, lagMs: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
  }
}
