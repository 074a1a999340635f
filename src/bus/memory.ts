import { randomBytes } from 'node:crypto';
import {
  type Bus,
  type BusEvent,
  type BusPosition,
  type BusStats,
  BusUnavailableError,
  type DeliveredEvent,
  type EventHandler,
  type PublishOptions,
  type Retention,
} from './bus.js';

/**
 * In-process bus for the single-process embedded mode (no REDIS_URL). Publishing is synchronous
 * into a queue that is drained on the next microtask, so `publish` resolves before delivery, as the
 * Redis bus does, and a batch is delivered contiguously because nothing can interleave a drain.
 *
 * Positions are numbered like Redis stream ids (`<ms>-<seq>`, the clock's milliseconds, never
 * going back), so the resume window (SENDER_RESUME_WINDOW) reads the same on both buses. The epoch
 * is new for every instance: a restarted process has lost its history, and a resume token from
 * before the restart is refused as `epoch changed`. The bus itself keeps no history (the worker's
 * in-memory history is the only one), so `range` is empty and `retained` says `trimmed`.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly epoch = randomBytes(9).toString('base64url');
  private handler: EventHandler | undefined;
  private queue: DeliveredEvent[] = [];
  private draining = false;
  private eventsIn = 0;
  private closed = false;
  /** The last id assigned by publish, and the last one delivered. */
  private lastMs = 0;
  private lastSeq = 0;
  private lastDelivered = '0-0';
  private readonly idempotencyTtlMs: number;
  /** Idempotency key -> expiry (ms). One TTL for all, so insertion order is expiry order. */
  private readonly idempotency = new Map<string, number>();

  constructor(options: { idempotencyTtlMs?: number } = {}) {
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? 300_000;
  }

  async publish(batch: readonly BusEvent[], _timeoutMs?: number, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BusUnavailableError('memory bus: closed');
    const key = options.idempotencyKey;
    if (key !== undefined) {
      const now = Date.now();
      for (const [k, expires] of this.idempotency) {
        if (expires > now) break;
        this.idempotency.delete(k);
      }
      if (this.idempotency.has(key)) return;
      this.idempotency.set(key, now + (options.idempotencyTtlMs ?? this.idempotencyTtlMs));
    }
    for (const ev of batch) this.queue.push({ account: ev.account, frame: ev.frame, facts: ev.facts, id: this.nextId() });
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => this.drain());
    }
  }

  /** As XADD `*`: the clock's ms, or the last ms with the next sequence number when the clock did not move (or went back). */
  private nextId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq++;
    }
    return `${this.lastMs}-${this.lastSeq}`;
  }

  private drain(): void {
    const queue = this.queue;
    this.queue = [];
    this.draining = false;
    const handler = this.handler;
    if (handler === undefined) return;
    for (const ev of queue) {
      this.eventsIn++;
      this.lastDelivered = ev.id;
      handler(ev);
    }
  }

  async start(onEvent: EventHandler): Promise<void> {
    this.handler = onEvent;
  }

  position(): BusPosition {
    return { epoch: this.epoch, lastId: this.lastDelivered };
  }

  async range(): Promise<DeliveredEvent[]> {
    return [];
  }

  async retained(id: string): Promise<Retention> {
    const [ms, seq] = id.split('-').map(Number);
    return ms > this.lastMs || (ms === this.lastMs && seq > this.lastSeq) ? 'ahead' : 'trimmed';
  }

  async check(): Promise<void> {
    if (this.closed) throw new Error('memory bus: closed');
  }

  stats(): BusStats {
    return { eventsIn: this.eventsIn, gaps: 0, malformed: 0, lagMs: 0, resets: 0, held: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
  }
}
