/**
 * The bus carries published events from whoever accepted them (POST /publish, the LUNA Handlers
 * bridge, any producer writing the stream) to every worker process.
 *
 * Contract (both implementations are run through test/integration/bus-contract.test.ts):
 * - Atomic batches: `publish(batch)` appends every event of the batch or none of them. It resolves
 *   only once the batch is durable in the bus (for Redis: acknowledged by the server); when it
 *   rejects (BusUnavailableError), no event of that batch is ever delivered, not even later.
 * - Ordering: one total order per bus (the stream order). Every reader sees events in that order;
 *   the events of one batch are contiguous and keep their list order.
 * - At-least-once into the stream, exactly-once to each reader while it runs: a reader that loses
 *   its connection resumes from the last id it handled, so it neither skips nor repeats an entry
 *   that is still in the stream. Entries trimmed away before a reader got them are a counted gap.
 * - Delivery happens on the event loop, one `onEvent` call per event; `onEvent` must not throw
 *   (the hot path treats errors as values) and must not keep `frame` beyond the call unless it
 *   copies it.
 */
export interface BusEvent {
  /** Account id (UUID text): subscribers of other accounts never see this event. */
  readonly account: string;
  /** The complete outgoing WebSocket text frame (UTF-8 JSON), built once by the producer. */
  readonly frame: Uint8Array;
  /** msgpack-encoded Facts (src/filters/facts.ts): what the filters test, without the event body. */
  readonly facts: Uint8Array;
}

export type EventHandler = (event: BusEvent) => void;

export interface BusStats {
  /** Events handed to onEvent since start. */
  readonly eventsIn: number;
  /** Entries known to be lost to this reader because the stream was trimmed past its last id. */
  readonly gaps: number;
  /** Entries the reader skipped because they were malformed. */
  readonly malformed: number;
  /** Milliseconds between the newest entry's id time and now, at the last read (0 on memory). */
  readonly lagMs: number;
}

export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Append a batch; see the contract above. `timeoutMs` bounds the whole operation. */
  publish(batch: readonly BusEvent[], timeoutMs: number): Promise<void>;
  /** Start reading; events appended after this resolves are delivered to `onEvent`. */
  start(onEvent: EventHandler): Promise<void>;
  /** Resolves when the bus answers within `timeoutMs`; rejects with an Error naming what failed. */
  check(timeoutMs: number): Promise<void>;
  stats(): BusStats;
  /** Stop reading and release connections. Idempotent. */
  close(): Promise<void>;
}

/** The bus could not take a publish; nothing of the batch was or will be delivered. */
export class BusUnavailableError extends Error {
  override readonly name = 'BusUnavailableError';
}
