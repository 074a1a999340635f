import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { type BusPosition, type BusStats, compareIds, type EventHandler, idMs } from './bus.js';
import { decodeEntry } from './entry.js';
import { backoffMs, createRedis, redisReason, withTimeout } from './redis-client.js';

const READ_COUNT = 512;

export interface RedisStreamBusOptions {
  /** XREAD BLOCK milliseconds; the reader's watchdog allows this plus SENDER_REDIS_TIMEOUT. */
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
 * trimmed gap before the first read of every new connection.
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
  /** Entries ever added with an id <= lastId (Redis 7 `entries-added` at start, plus each one read). */
  private seen = 0;
  private wake: (() => void) | undefined;
  private closed = false;

  private eventsIn = 0;
  private gaps = 0;
  private malformed = 0;
  private lagMs = 0;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    options: RedisStreamBusOptions = {},
  ) {
    this.key = config.SENDER_STREAM_KEY;
    this.redisTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
    this.blockMs = options.blockMs ?? 5000;
    this.gapCheckAfterMs = options.gapCheckAfterMs ?? 1000;
  }

  async start(onEvent: EventHandler): Promise<void> {
    if (this.handler !== undefined) throw new Error('RedisReader: start() called twice');
    if (this.closed) throw new Error('RedisReader: closed');
    this.handler = onEvent;
    // `$` resolved once, to a concrete id, so that every later (re)connection resumes from an id.
    for (let attempt = 1; ; attempt++) {
      try {
        const reader = await this.connectReader();
        if (this.closed) {
          reader.disconnect();
          return;
        }
        const info = await this.streamInfo(reader);
        this.lastId = info?.lastGeneratedId ?? '0-0';
        this.seen = info?.entriesAdded ?? 0;
        this.reader = reader;
        break;
      } catch (err) {
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
  private async checkGap(r: Redis): Promise<void> {
    const info = await this.streamInfo(r);
    if (info === undefined || info.entriesAdded === undefined) return;
    const oldestIsNewer = info.firstId !== undefined ? compareIds(info.firstId, this.lastId) > 0 : compareIds(info.lastGeneratedId, this.lastId) > 0;
    if (!oldestIsNewer) return;
    const lost = info.entriesAdded - info.length - this.seen;
    if (lost > 0) {
      this.gaps += lost;
      this.log.warn({ lastId: this.lastId, oldest: info.firstId ?? null, lost }, 'stream entries were trimmed before this worker read them');
    }
    this.seen = info.entriesAdded - info.length;
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
        if (needCheck || Date.now() - lastReturn > this.gapCheckAfterMs) await this.checkGap(r);
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
          continue;
        }
        const entries = res[0][1];
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

  private deliver(entries: [Buffer, Buffer[]][]): void {
    const handler = this.handler;
    for (const [id, fields] of entries) {
      this.lastId = id.toString('latin1');
      this.seen++;
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
    return { eventsIn: this.eventsIn, gaps: this.gaps, malformed: this.malformed, lagMs: this.lagMs, resets: 0 };
  }

  // TODO(positions): the epoch is not yet kept in Redis (next step); until then one per reader.
  private readonly epoch = 'redis';

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
