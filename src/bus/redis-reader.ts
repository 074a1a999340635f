import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { type BusPosition, type BusStats, compareIds, type EventHandler, idMs } from './bus.js';
import { decodeEntry, entryEpoch } from './entry.js';
import { backoffMs, createRedis, redisReason, withTimeout } from './redis-client.js';
import { EPOCH_RE, ensureEpoch, epochKey } from './redis-epoch.js';

const READ_COUNT = 512;
/** Recent ids kept to find where a truncated stream (a failover to a lagging replica) ends. */
const RECENT_IDS = 10_000;
/** Epochs a reader remembers having left: an entry that still names one belongs to the current epoch. */
const RETIRED_EPOCHS = 64;
/** Longest pause between two INFO polls while a batch waits for its replicas (ms). */
const REPLICA_POLL_MAX_MS = 50;
/**
 * A batch still held this long (ms) was written without a WAIT (a producer's own XADD): the reader
 * then asks the replicas to acknowledge (see untilReplicated), and again every REPLICA_ASK_EVERY_MS.
 */
const REPLICA_ASK_AFTER_MS = 20;
const REPLICA_ASK_EVERY_MS = 1000;

export interface RedisStreamBusOptions {
  /**
   * XREAD BLOCK milliseconds; the reader's watchdog allows this plus SENDER_REDIS_TIMEOUT. After
   * every empty read the reader checks the stream for a reset, so this bounds how long a deleted
   * or recreated stream goes unnoticed (default 1000: one XINFO and one GET a second when idle).
   */
  blockMs?: number;
  /**
   * Check for a gap before the next read when the previous read returned this long ago (the
   * handler or the event loop was busy), besides after every reconnect and every full batch.
   */
  gapCheckAfterMs?: number;
}

interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  /** Redis 7+: entries ever added to the stream. */
  entriesAdded: number | undefined;
  firstId: string | undefined;
}

/**
 * The read half of the Redis stream bus: one connection that blocks in XREAD from this worker's
 * own last id. It does its own reconnecting (ioredis's is off for it) so that it can check for a
 * trimmed gap, and for a reset stream, before the first read of every new connection.
 *
 * Epoch (redis-epoch.ts): learnt at start, changed when an entry's `e` names another one (entries
 * without `e`, from third-party producers, belong to the current epoch), and when a check finds
 * the history lost. A *reset* is a stream that was deleted or recreated under the reader: the
 * stream is missing, its last-generated-id is below lastId, or (Redis 7) fewer entries were ever
 * added to it than this reader has seen. XREAD from lastId would then wait until new ids pass the
 * old ones (for ever, when the old ids came from a clock that was ahead), so the reader starts
 * over from `0-0` of the new stream in a new epoch and counts it in `resets`.
 */
export class RedisReader {
  private readonly key: string;
  private readonly redisTimeoutMs: number;
  private readonly blockMs: number;
  private readonly gapCheckAfterMs: number;
  private reader: Redis | undefined;
  private handler: EventHandler | undefined;
  private loop: Promise<void> | undefined;
  private lastId = '0-0';
  /** The ids of the last RECENT_IDS entries read, a ring (see sharedPrefixEnd). */
  private readonly recent: string[] = new Array(RECENT_IDS).fill('');
  private recentAt = 0;
  private epoch = '';
  private epochBytes = Buffer.alloc(0);
  private readonly retired = new Set<string>();
  private onEpoch: ((epoch: string) => void) | undefined;
  /** Entries ever added with an id <= lastId (Redis 7 `entries-added` at start, plus each one read). */
  private seen = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  /** SENDER_REDIS_MIN_REPLICAS: a batch read is delivered only once that many replicas hold it. */
  private readonly minReplicas: number;

  private eventsIn = 0;
  private gaps = 0;
  private malformed = 0;
  private lagMs = 0;
  private resets = 0;
  /** Entries read but not delivered yet: fewer than minReplicas replicas confirmed them. */
  private held = 0;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    options: RedisStreamBusOptions = {},
  ) {
    this.key = config.SENDER_STREAM_KEY;
    this.redisTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
    this.blockMs = options.blockMs ?? 1000;
    this.gapCheckAfterMs = options.gapCheckAfterMs ?? 1000;
    this.minReplicas = config.SENDER_REDIS_MIN_REPLICAS;
  }

  async start(onEvent: EventHandler, onEpoch?: (epoch: string) => void): Promise<void> {
    if (this.handler !== undefined) throw new Error('RedisReader: start() called twice');
    if (this.closed) throw new Error('RedisReader: closed');
    this.handler = onEvent;
    this.onEpoch = onEpoch;
    // `$` resolved once, to a concrete id, so that every later (re)connection resumes from an id.
    for (let attempt = 1; ; attempt++) {
      try {
        const reader = await this.connectReader();
        if (this.closed) {
          reader.disconnect();
          return;
        }
        // Kept from here on, so that close() ends it while the steps below wait.
        this.reader = reader;
        this.setEpoch(await ensureEpoch(reader, this.key, '', this.redisTimeoutMs));
        const info = await this.streamInfo(reader);
        this.lastId = info?.lastGeneratedId ?? '0-0';
        this.seen = info?.entriesAdded ?? 0;
        // The start position is the first a subscriber may be given (and the end of the history
        // preload): with min replicas, it too should be replicated. Bounded, so that a worker still
        // starts (and answers its health checks) while replicas are missing.
        if (this.minReplicas > 0 && !(await this.untilReplicated(reader, 0, this.redisTimeoutMs))) {
          this.log.warn(
            { lastId: this.lastId, required: this.minReplicas },
            'starting at a stream position that fewer replicas than SENDER_REDIS_MIN_REPLICAS confirmed in time: a failover now may lose it',
          );
        }
        break;
      } catch (err) {
        this.reader?.disconnect();
        this.reader = undefined;
        if (this.closed) return;
        if (attempt === 1 || attempt % 30 === 0) this.log.warn({ err: redisReason(err), attempt }, 'redis reader cannot connect; retrying');
        await this.sleep(backoffMs(attempt));
        if (this.closed) return;
      }
    }
    this.loop = this.readLoop();
  }

  private async connectReader(): Promise<Redis> {
    const r = createRedis(this.config, 'reader', {
      lazyConnect: true,
      retryStrategy: null,
      enableOfflineQueue: false,
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: false,
    });
    // Errors surface through the rejected command; the loop logs once per outage. The emitted
    // error says more ('connection refused') than connect()'s own rejection.
    let lastError: unknown;
    r.on('error', (err: unknown) => (lastError = err));
    try {
      await withTimeout(r.connect(), this.redisTimeoutMs, () => r.disconnect());
    } catch (err) {
      r.disconnect();
      throw lastError ?? err;
    }
    return r;
  }

  private async streamInfo(r: Redis): Promise<StreamInfo | undefined> {
    let raw: unknown;
    try {
      raw = await withTimeout(r.call('XINFO', 'STREAM', this.key), this.redisTimeoutMs, () => r.disconnect());
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) return undefined;
      throw err;
    }
    const flat = raw as unknown[];
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
    const first = m.get('first-entry') as unknown[] | null | undefined;
    const added = m.get('entries-added');
    return {
      length: Number(m.get('length') ?? 0),
      lastGeneratedId: String(m.get('last-generated-id') ?? '0-0'),
      entriesAdded: added === undefined ? undefined : Number(added),
      firstId: Array.isArray(first) ? String(first[0]) : undefined,
    };
  }

  /**
   * Gap check, run before a read that follows a reconnect, a full batch or a long pause. When the
   * oldest entry in the stream is newer than lastId (or the stream is empty but has grown past
   * it), entries after lastId may have been trimmed. How many: every entry ever added (Redis 7
   * `entries-added`) is either at or before lastId (`seen`, counted exactly), still in the stream
   * (`length`, all newer than lastId here), or lost. Exact when entries are only added with XADD
   * and removed by trimming; XDEL of unread entries counts them as lost too. On Redis < 7 there is
   * no `entries-added` and no gap is counted.
   */
  private checkGap(info: StreamInfo): void {
    if (info.entriesAdded === undefined) return;
    const oldestIsNewer = info.firstId !== undefined ? compareIds(info.firstId, this.lastId) > 0 : compareIds(info.lastGeneratedId, this.lastId) > 0;
    if (!oldestIsNewer) return;
    const lost = info.entriesAdded - info.length - this.seen;
    if (lost > 0) {
      this.gaps += lost;
      this.log.warn({ lastId: this.lastId, oldest: info.firstId ?? null, lost }, 'stream entries were trimmed before this worker read them');
    }
    this.seen = info.entriesAdded - info.length;
  }

  /**
   * Run after every reconnect, every empty read, every full batch and every long pause: a reset
   * (see the class comment) or a changed epoch key, then the gap check.
   */
  private async checkStream(r: Redis): Promise<void> {
    const [stored, info] = await Promise.all([withTimeout(r.get(epochKey(this.key)), this.redisTimeoutMs, () => r.disconnect()), this.streamInfo(r)]);
    const reset = info === undefined || compareIds(info.lastGeneratedId, this.lastId) < 0 || (info.entriesAdded !== undefined && info.entriesAdded < this.seen);
    if (reset) {
      // The stream still carries our epoch but ends before what we read: a failover to a replica
      // that lacked our last entries holds a prefix of what we delivered, perhaps followed by new
      // entries. Go on after that prefix: re-reading from 0-0 would send every live subscriber
      // the whole stream again. A deleted, recreated or emptied stream has another epoch (or none).
      const prefixEnd = info !== undefined && stored === this.epoch ? await this.sharedPrefixEnd(r) : undefined;
      // The tail we delivered is lost either way: replace our epoch unless the publisher (or
      // another reader) already did.
      const epoch = await ensureEpoch(r, this.key, this.epoch, this.redisTimeoutMs);
      this.log.warn(
        { lastId: this.lastId, lastGeneratedId: info?.lastGeneratedId ?? null, epoch: this.epoch, newEpoch: epoch, from: prefixEnd?.id ?? '0-0' },
        prefixEnd !== undefined
          ? 'the stream lost entries this worker had read (a failover to a lagging replica?); going on after the part it still holds'
          : 'the stream was deleted or recreated; reading the new stream from its start',
      );
      this.lastId = prefixEnd?.id ?? '0-0';
      this.seen = prefixEnd !== undefined && info?.entriesAdded !== undefined ? info.entriesAdded - prefixEnd.after : 0;
      this.changeEpoch(epoch);
      return;
    }
    if (stored !== this.epoch) {
      const epoch = stored === null ? await ensureEpoch(r, this.key, '', this.redisTimeoutMs) : stored;
      if (epoch !== this.epoch) {
        this.log.warn({ epoch: this.epoch, newEpoch: epoch }, 'the stream epoch changed');
        this.changeEpoch(epoch);
      }
    }
    this.checkGap(info);
  }

  /**
   * The newest entry of the stream that this reader delivered (its id among the last RECENT_IDS
   * read), found by reading the stream backwards, and how many entries follow it; undefined when
   * none is found within RECENT_IDS entries from the end. An entry appended after the failover
   * with exactly the id of one we read (same ms and sequence from another clock) would be taken
   * for ours; ids from two clocks rarely meet to the millisecond and sequence.
   */
  private async sharedPrefixEnd(r: Redis): Promise<{ id: string; after: number } | undefined> {
    const ours = new Set(this.recent);
    ours.delete('');
    let end = '+';
    let after = 0;
    while (after < RECENT_IDS) {
      const page = (await withTimeout(r.xrevrange(this.key, end, '-', 'COUNT', 500), this.redisTimeoutMs, () => r.disconnect())) as [string, string[]][];
      for (const [id] of page) {
        if (ours.has(id)) return { id, after };
        after++;
      }
      if (page.length < 500) return undefined;
      end = `(${page[page.length - 1][0]}`;
    }
    return undefined;
  }

  /** The epoch at start: nothing to announce yet. */
  private setEpoch(epoch: string): void {
    this.epoch = epoch;
    this.epochBytes = Buffer.from(epoch, 'latin1');
  }

  /** A new epoch while reading: announced before any event of it is delivered, counted in `resets`. */
  private changeEpoch(epoch: string): void {
    this.resets++;
    if (epoch === this.epoch) return;
    this.retired.add(this.epoch);
    if (this.retired.size > RETIRED_EPOCHS) this.retired.delete(this.retired.values().next().value as string);
    this.setEpoch(epoch);
    this.onEpoch?.(epoch);
  }

  private async readLoop(): Promise<void> {
    let attempt = 0;
    let needCheck = false;
    let outage = false;
    let lastReturn = Date.now();
    while (!this.closed) {
      let r = this.reader;
      try {
        if (r === undefined || r.status !== 'ready') {
          r?.disconnect();
          this.reader = undefined;
          r = await this.connectReader();
          if (this.closed) {
            r.disconnect();
            break;
          }
          this.reader = r;
          needCheck = true;
        }
        if (needCheck || Date.now() - lastReturn > this.gapCheckAfterMs) await this.checkStream(r);
        needCheck = false;
        const conn = r;
        const res = (await withTimeout(
          conn.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', this.blockMs, 'STREAMS', this.key, this.lastId),
          this.blockMs + this.redisTimeoutMs,
          () => conn.disconnect(),
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
        lastReturn = Date.now();
        attempt = 0;
        if (outage) {
          outage = false;
          this.log.info({ lastId: this.lastId }, 'redis reader reconnected');
        }
        if (res === null || res.length === 0) {
          this.lagMs = 0;
          needCheck = true;
          continue;
        }
        const entries = res[0][1];
        if (this.minReplicas > 0) await this.untilReplicated(conn, entries.length);
        this.deliver(entries);
        needCheck = entries.length >= READ_COUNT;
      } catch (err) {
        if (this.closed) break;
        if (!outage) {
          outage = true;
          this.log.warn({ err: redisReason(err), lastId: this.lastId }, 'redis reader lost its connection; reconnecting');
        }
        r?.disconnect();
        this.reader = undefined;
        await this.sleep(backoffMs(++attempt));
      }
    }
  }

  /**
   * SENDER_REDIS_MIN_REPLICAS (see bus.ts, "Replicated before delivered"): waits until that many
   * replicas acknowledge the master's replication offset as it stood just after the XREAD that
   * returned the batch. Replication is one ordered stream, so a replica whose acknowledged offset
   * reached it holds every write the XREAD could see, whoever made it (the publish script, the LUNA
   * bridge, a producer's own XADD). One `INFO replication` per poll, polled only while a batch
   * waits. Replicas acknowledge at once when a publisher's WAIT asks them (REPLCONF GETACK), and on
   * their own only once a second; so a batch still held after REPLICA_ASK_AFTER_MS (nobody ran a
   * WAIT for it) gets a WAIT of the reader's own. WAIT only counts the writes of its connection, so
   * first a PUBLISH to `<stream>:replicas` (no key is written; it enters the replication stream
   * after every entry read): once WAIT sees it acknowledged, so is the batch. Rejects (the read loop
   * then reconnects and reads again from the last delivered id, dropping the batch) when the
   * connection fails or the server is no longer the master; otherwise resolves false after `maxMs`
   * only (for a batch: never; without the replicas nothing is delivered, counted in `held`).
   */
  private async untilReplicated(conn: Redis, count: number, maxMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.held = count;
    const since = Date.now();
    let warned = false;
    let target: number | undefined;
    let askAt = since + REPLICA_ASK_AFTER_MS;
    const confirmed = () => {
      if (warned) this.log.info({ held: count, heldMs: Date.now() - since }, 'held stream entries confirmed by the replicas; delivering');
      return true;
    };
    try {
      for (let attempt = 1; ; attempt++) {
        const text = await withTimeout(conn.info('replication'), this.redisTimeoutMs, () => conn.disconnect());
        const rep = parseReplication(text);
        if (rep.role !== 'master') throw new Error(`the server is a ${rep.role}, not the master`);
        target ??= rep.offset;
        const acked = rep.replicaOffsets.filter((o) => o >= target!).length;
        if (acked >= this.minReplicas) return confirmed();
        if (this.closed) throw new Error('closed');
        if (Date.now() - since >= maxMs) return false;
        if (!warned && Date.now() - since >= this.redisTimeoutMs) {
          warned = true;
          this.log.warn(
            { held: count, replicas: rep.replicaOffsets.length, acked, required: this.minReplicas },
            'stream entries held: fewer replicas than SENDER_REDIS_MIN_REPLICAS hold them; nothing is delivered until they do',
          );
        }
        if (Date.now() >= askAt) {
          if (await this.askReplicas(conn)) return confirmed();
          askAt = Date.now() + REPLICA_ASK_EVERY_MS;
          continue;
        }
        await this.sleep(Math.min(attempt, REPLICA_POLL_MAX_MS));
      }
    } finally {
      this.held = 0;
    }
  }

  /** PUBLISH then WAIT on the reader's connection (see untilReplicated): true when enough replicas acknowledged. */
  private async askReplicas(conn: Redis): Promise<boolean> {
    const waitMs = Math.min(REPLICA_ASK_EVERY_MS, this.redisTimeoutMs);
    await withTimeout(conn.publish(`${this.key}:replicas`, ''), this.redisTimeoutMs, () => conn.disconnect());
    const acks = await withTimeout(conn.call('WAIT', String(this.minReplicas), String(waitMs)), waitMs + this.redisTimeoutMs, () => conn.disconnect());
    return Number(acks) >= this.minReplicas;
  }

  private deliver(entries: [Buffer, Buffer[]][]): void {
    const handler = this.handler;
    for (const [id, fields] of entries) {
      this.lastId = id.toString('latin1');
      this.recent[this.recentAt] = this.lastId;
      this.recentAt = (this.recentAt + 1) % RECENT_IDS;
      this.seen++;
      const e = entryEpoch(fields);
      if (e !== undefined && !e.equals(this.epochBytes)) this.entryEpochDiffers(e.toString('latin1'));
      const ev = decodeEntry(this.lastId, fields);
      if (typeof ev === 'string') {
        // Logged the first ten times and then every thousandth: a broken producer must not flood the log.
        if (++this.malformed <= 10 || this.malformed % 1000 === 0) {
          this.log.warn({ id: this.lastId, reason: ev, malformed: this.malformed }, 'malformed stream entry skipped');
        }
        continue;
      }
      this.eventsIn++;
      if (handler !== undefined) handler(ev);
    }
    this.lagMs = Math.max(0, Date.now() - idMs(this.lastId));
  }

  /** An entry names another epoch: a new one (the publisher replaced it), or one we left already. */
  private entryEpochDiffers(epoch: string): void {
    if (!EPOCH_RE.test(epoch) || this.retired.has(epoch)) return;
    this.log.warn({ epoch: this.epoch, newEpoch: epoch, id: this.lastId }, 'the stream epoch changed');
    this.changeEpoch(epoch);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  stats(): BusStats {
    return { eventsIn: this.eventsIn, gaps: this.gaps, malformed: this.malformed, lagMs: this.lagMs, resets: this.resets, held: this.held };
  }

  position(): BusPosition {
    return { epoch: this.epoch, lastId: this.lastId };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    this.wake?.();
    this.reader?.disconnect();
    await this.loop;
    this.reader?.disconnect();
  }
}

interface Replication {
  role: string;
  /** master_repl_offset: the end of the replication stream. */
  offset: number;
  /** The acknowledged offset of each replica in state `online`. */
  replicaOffsets: number[];
}

/** `INFO replication` text: `role:master`, `master_repl_offset:N`, `slaveK:ip=..,port=..,state=online,offset=N,lag=..`. */
export function parseReplication(text: string): Replication {
  const rep: Replication = { role: 'unknown', offset: 0, replicaOffsets: [] };
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1);
    if (name === 'role') rep.role = value;
    else if (name === 'master_repl_offset') rep.offset = Number(value);
    else if (/^slave[0-9]+$/.test(name)) {
      const f = new Map(value.split(',').map((kv) => kv.split('=') as [string, string]));
      if (f.get('state') === 'online') rep.replicaOffsets.push(Number(f.get('offset')));
    }
  }
  return rep;
}
