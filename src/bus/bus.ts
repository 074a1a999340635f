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
 * - Replicas (Redis, SENDER_REDIS_MIN_REPLICAS above 0): `publish` resolves only once that many
 *   replicas hold the batch. When the batch was appended but not confirmed in time it rejects with
 *   BusUnconfirmedError, not BusUnavailableError: the batch may still be delivered (or lost in a
 *   failover), and a retry with the same `idempotencyKey` appends nothing.
 * - Replicated before delivered (Redis, SENDER_REDIS_MIN_REPLICAS above 0): a reader delivers an
 *   entry only once that many replicas hold it, so nothing delivered (and no position a subscriber
 *   was given) is lost in a failover, and the retry of a publish whose first attempt died with the
 *   master is the only copy anyone receives. How: after each XREAD the reader notes the master's
 *   `master_repl_offset` and holds the batch until `INFO replication` shows that many replicas
 *   online with an acknowledged `offset` at or past it (replication is one ordered stream, so this
 *   covers every writer: publish, the LUNA bridge, a producer's own XADD; no key is written).
 *   Latency: the publisher's WAIT makes replicas acknowledge at once; for a batch still held after
 *   20 ms (written without a WAIT) the reader runs PUBLISH + WAIT itself. With too few replicas
 *   nothing is delivered (stats().held counts the batch held). A batch held when the connection
 *   fails is dropped and read again from the last delivered id on the new master, if it holds it.
 *   Positions, range and retained only ever see delivered ids, so they need no change. 0: no hold.
 * - Idempotency: a publish with `options.idempotencyKey` that repeats the key of an earlier
 *   publish taken within the bus's idempotency TTL (SENDER_IDEMPOTENCY_TTL) appends nothing and
 *   resolves as the first did. The key is recorded atomically with the append (a publish that
 *   rejected with BusUnavailableError recorded no key, so its retry appends); keys are opaque to the
 *   bus, so the caller scopes them (the publish route prefixes the account).
 * - Delivery happens on the event loop, one `onEvent` call per event; `onEvent` must not throw
 *   (the hot path treats errors as values) and must not keep `frame` beyond the call unless it
 *   copies it.
 * - Positions (SPEC section 9): every delivered event carries its position `id` (the Redis stream
 *   entry id, `<ms>-<seq>`; the memory bus numbers its events in the same form), strictly
 *   increasing in delivery order within an epoch, and equal for every reader of the bus. The
 *   *epoch* names one continuous history: it changes when the history is lost (a new or deleted
 *   stream, a Redis that lost its data, a new memory bus). A reader that sees the epoch change calls
 *   `onEpoch` before delivering the first event of the new epoch; `position()` then reports it.
 */
export interface BusEvent {
  /** Account id (UUID text): subscribers of other accounts never see this event. */
  readonly account: string;
  /** The complete outgoing WebSocket text frame (UTF-8 JSON), built once by the producer. */
  readonly frame: Uint8Array;
  /** msgpack-encoded Facts (src/filters/facts.ts): what the filters test, without the event body. */
  readonly facts: Uint8Array;
}

/** An event as a reader delivers it: with its position in the bus. */
export interface DeliveredEvent extends BusEvent {
  /** `<ms>-<seq>` (both decimal): the stream entry id. Compare with `compareIds`. */
  readonly id: string;
}

export type EventHandler = (event: DeliveredEvent) => void;

/** Where this reader stands, read synchronously (the upgrade handler needs it before the 101). */
export interface BusPosition {
  /** `^[A-Za-z0-9_-]{1,64}$`: the current epoch. */
  readonly epoch: string;
  /** The id of the last event handed to onEvent, or the bus's last id when the reader started
   * (`0-0` for an empty bus): every event delivered from now on has a greater id. */
  readonly lastId: string;
}

/** Whether a position can still be replayed from the bus itself (not from a worker's memory). */
export type Retention = 'retained' | 'trimmed' | 'ahead';

export interface BusStats {
  /** Events handed to onEvent since start. */
  readonly eventsIn: number;
  /** Entries known to be lost to this reader because the stream was trimmed past its last id. */
  readonly gaps: number;
  /** Entries the reader skipped because they were malformed. */
  readonly malformed: number;
  /** Milliseconds between the newest entry's id time and now, at the last read (0 on memory). */
  readonly lagMs: number;
  /** Times this reader saw the epoch change (history lost: stream deleted or recreated). */
  readonly resets: number;
  /** Entries read but held back now until SENDER_REDIS_MIN_REPLICAS replicas hold them (0 on memory). */
  readonly held: number;
}

export interface PublishOptions {
  /** A repeat of this key within the idempotency TTL appends nothing (contract above). */
  readonly idempotencyKey?: string;
  /** How long that key is kept, in ms (default SENDER_IDEMPOTENCY_TTL). */
  readonly idempotencyTtlMs?: number;
}

export interface Bus {
  readonly kind: 'memory' | 'redis';
  /** Append a batch; see the contract above. `timeoutMs` bounds the whole operation. */
  publish(batch: readonly BusEvent[], timeoutMs: number, options?: PublishOptions): Promise<void>;
  /**
   * Start reading; events appended after this resolves are delivered to `onEvent`. `onEpoch` is
   * called (before any event of it) when the epoch changes while reading.
   */
  start(onEvent: EventHandler, onEpoch?: (epoch: string) => void): Promise<void>;
  /** The current epoch and last delivered id; valid once `start` resolved. */
  position(): BusPosition;
  /**
   * Events with `afterId < id <= uptoId`, in order, read from the bus itself (not delivered to
   * onEvent): for a resume older than the worker's in-memory history. The memory bus keeps no
   * history of its own and returns []. Rejects (BusUnavailableError) when the bus cannot answer.
   */
  range(afterId: string, uptoId: string, timeoutMs: number): Promise<DeliveredEvent[]>;
  /**
   * Whether every event after `id` (of the current epoch) is still held by the bus: `ahead` when
   * `id` is past the bus's last id, `trimmed` when entries after it were removed (the memory bus:
   * always, as it holds nothing). Rejects when the bus cannot answer.
   */
  retained(id: string, timeoutMs: number): Promise<Retention>;
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

/**
 * The batch was appended but fewer replicas than required confirmed it in time: it may still be
 * delivered. Deliberately not a BusUnavailableError, whose promise (never delivered) it breaks.
 */
export class BusUnconfirmedError extends Error {
  override readonly name = 'BusUnconfirmedError';
}

/** Stream ids `ms-seq` compared numerically (BigInt: seq may exceed 2^53 in principle). */
export function compareIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** The milliseconds part of an id. */
export function idMs(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}
