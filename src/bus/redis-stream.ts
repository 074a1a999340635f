import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { BusUnavailableError, type Bus, type BusEvent, type BusStats, type EventHandler } from './bus.js';
import { decodeEntry } from './entry.js';
import { backoffMs, createRedis, redisReason } from './redis-client.js';

/**
 * Appends a batch atomically, unless the server's clock is past the deadline (ARGV[1], ms since
 * the epoch in server time): a command that reaches Redis late (it sat in a socket buffer while
 * the server hung, or was re-sent) appends nothing. The check and the XADDs run in one script, so
 * nothing interleaves. All-or-nothing: the first XADD passes Redis's OOM gate for the whole script
 * (later writes of a script are not refused), and XADD with `*` cannot fail otherwise once the
 * first one succeeded. Returns the new ids, or -1 past the deadline.
 */
const PUBLISH_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[1]) then return -1 end
local ids = {}
for i = 3, #ARGV, 3 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'a', ARGV[i], 'f', ARGV[i + 1], 'p', ARGV[i + 2])
end
return ids`;
const PUBLISH_SHA = createHash('sha1').update(PUBLISH_LUA).digest('hex');

const READ_COUNT = 512;
const TIMEOUT = Symbol('timeout');

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
 * The Redis stream bus (SPEC section 6). Two connections: a publisher (no offline queue, so a
 * publish during an outage fails at once) and a reader that blocks in XREAD from its own last id.
 * The reader does its own reconnecting (ioredis's is off for it) so that it can check for a
 * trimmed gap before the first read of every new connection.
 */
export class RedisStreamBus implements Bus {
  readonly kind = 'redis' as const;
  private readonly key: string;
  private readonly maxlen: string;
  private readonly redisTimeoutMs: number;
  private readonly blockMs: number;
  private readonly gapCheckAfterMs: number;

  private pub: Redis;
  /** Per connection: the clock estimate and SCRIPT LOAD done on its latest `ready` (never rejects). */
  private readonly prepared = new WeakMap<Redis, Promise<void>>();
  /** Why the publisher is not usable, for the 503 detail; undefined while it is ready. */
  private pubReason: string | undefined;
  /** Server clock minus local clock, and the uncertainty of that estimate (ms). */
  private clockOffset = 0;
  private clockUncertainty = 0;

  private reader: Redis | undefined;
  private handler: EventHandler | undefined;
  private loop: Promise<void> | undefined;
  private lastId = '0-0';
  /** Entries ever added with an id <= lastId (Redis 7 `entries-added` at start, plus each one read). */
  private seen = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

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
    this.maxlen = String(config.SENDER_STREAM_MAXLEN);
    this.redisTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
    this.blockMs = options.blockMs ?? 5000;
    this.gapCheckAfterMs = options.gapCheckAfterMs ?? 1000;
    this.pub = this.newPublisher();
  }

  // ---------------------------------------------------------------- publishing

  private newPublisher(): Redis {
    const r = createRedis(this.config, 'publisher', {
      enableOfflineQueue: false,
      // In-flight commands of a dropped connection are rejected at once (not re-sent, not left hanging).
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    this.pubReason = 'connecting';
    r.on('error', (err: unknown) => {
      if (r !== this.pub) return;
      const reason = redisReason(err);
      if (this.pubReason === undefined || this.pubReason === 'connecting') this.log.warn({ err: reason }, 'redis publisher connection failed');
      this.pubReason = reason;
    });
    r.on('close', () => {
      if (r === this.pub && this.pubReason === undefined) this.pubReason = 'connection lost';
    });
    r.on('ready', () => {
      if (r !== this.pub) return;
      this.pubReason = undefined;
      this.prepared.set(r, this.prepare(r));
    });
    return r;
  }

  /** On every new publisher connection: estimate the server clock offset and load the script. */
  private async prepare(r: Redis): Promise<void> {
    try {
      const t0 = Date.now();
      const [s, us] = await r.time();
      const t1 = Date.now();
      this.clockOffset = Number(s) * 1000 + Math.floor(Number(us) / 1000) - (t0 + t1) / 2;
      this.clockUncertainty = (t1 - t0) / 2 + 1;
      await r.script('LOAD', PUBLISH_LUA);
    } catch (err) {
      this.log.debug({ err: redisReason(err) }, 'redis publisher preparation failed');
    }
  }

  /** Resolves once `r` is ready; rejects at once when it is between reconnect attempts. */
  private whenReady(r: Redis): Promise<void> {
    if (r.status === 'ready') return Promise.resolve();
    if (r.status !== 'connecting' && r.status !== 'connect' && r.status !== 'wait') {
      return Promise.reject(new BusUnavailableError(`redis: ${this.pubReason ?? 'not connected'}`));
    }
    return new Promise((resolve, reject) => {
      const done = (err?: unknown) => {
        r.off('ready', onReady);
        r.off('error', done);
        r.off('end', onEnd);
        if (err === undefined) resolve();
        else reject(new BusUnavailableError(`redis: ${redisReason(err)}`));
      };
      const onReady = () => done();
      const onEnd = () => done(new Error('Connection is closed.'));
      r.once('ready', onReady);
      r.once('error', done);
      r.once('end', onEnd);
    });
  }

  async publish(batch: readonly BusEvent[], timeoutMs: number): Promise<void> {
    if (this.closed) throw new BusUnavailableError('redis: bus closed');
    if (batch.length === 0) return;
    const started = Date.now();
    // The latest server time at which the script may still append. It is earlier than our own
    // timeout by the clock uncertainty and by a margin for the reply to travel back, so that a
    // batch appended just in time is, as a rule, also acknowledged in time.
    const replyMargin = Math.min(250, timeoutMs / 4);
    const deadline = Math.floor(started + timeoutMs - replyMargin + this.clockOffset - this.clockUncertainty);
    const args: (string | Buffer)[] = [String(deadline), this.maxlen];
    for (const ev of batch) args.push(ev.account, asBuffer(ev.frame), asBuffer(ev.facts));
    const pub = this.pub;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(TIMEOUT), timeoutMs);
    });
    try {
      const result = await Promise.race([this.append(pub, args), timeout]);
      if (result === -1) throw new BusUnavailableError(`redis: timeout after ${timeoutMs}ms`);
    } catch (err) {
      if (err === TIMEOUT) {
        // The command may still be in a socket buffer or in the server's input queue. The deadline
        // makes it a no-op there; dropping the connection keeps later publishes off a hung socket.
        this.replacePublisher(pub);
        throw new BusUnavailableError(`redis: timeout after ${timeoutMs}ms`);
      }
      if (err instanceof BusUnavailableError) throw err;
      throw new BusUnavailableError(`redis: ${redisReason(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async append(pub: Redis, args: (string | Buffer)[]): Promise<unknown> {
    await this.whenReady(pub);
    // After the script is loaded, so that EVALSHA does not meet NOSCRIPT and fall back to EVAL
    // out of order with the publishes behind it (the LUNA bridge relies on the order of calls).
    await this.prepared.get(pub);
    try {
      return await pub.evalsha(PUBLISH_SHA, 1, this.key, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await pub.eval(PUBLISH_LUA, 1, this.key, ...args);
    }
  }

  private replacePublisher(old: Redis): void {
    if (this.pub !== old || this.closed) return;
    this.log.warn('redis publisher timed out; replacing its connection');
    this.pub = this.newPublisher();
    old.disconnect();
  }

  async check(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error('redis: bus closed');
    const pub = this.pub;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis: timeout after ${timeoutMs}ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.whenReady(pub).then(() => pub.ping()), timeout]);
    } catch (err) {
      const msg = (err as Error).message;
      throw new Error(msg.startsWith('redis: ') ? msg : `redis: ${redisReason(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- reading

  async start(onEvent: EventHandler): Promise<void> {
    if (this.handler !== undefined) throw new Error('RedisStreamBus: start() called twice');
    if (this.closed) throw new Error('RedisStreamBus: closed');
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
      await this.bounded(r.connect(), this.redisTimeoutMs, r);
    } catch (err) {
      r.disconnect();
      throw lastError ?? err;
    }
    return r;
  }

  /** `p`, or a rejection after `ms` that also drops `r` (so its pending commands end too). */
  private async bounded<T>(p: Promise<T>, ms: number, r: Redis): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            r.disconnect();
            reject(new Error(`timeout after ${ms}ms`));
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async streamInfo(r: Redis): Promise<StreamInfo | undefined> {
    let raw: unknown;
    try {
      raw = await this.bounded(r.call('XINFO', 'STREAM', this.key), this.redisTimeoutMs, r);
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
    const oldestIsNewer =
      info.firstId !== undefined ? compareIds(info.firstId, this.lastId) > 0 : compareIds(info.lastGeneratedId, this.lastId) > 0;
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
        const res = (await this.bounded(
          r.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', this.blockMs, 'STREAMS', this.key, this.lastId),
          this.blockMs + this.redisTimeoutMs,
          r,
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
      const ev = decodeEntry(fields);
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
    return { eventsIn: this.eventsIn, gaps: this.gaps, malformed: this.malformed, lagMs: this.lagMs };
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.closed = true;
      this.handler = undefined;
      this.wake?.();
      this.reader?.disconnect();
      await this.loop;
      this.reader?.disconnect();
      const pub = this.pub;
      if (pub.status === 'ready') {
        await this.bounded(pub.quit(), this.redisTimeoutMs, pub).catch(() => pub.disconnect());
      } else {
        pub.disconnect();
      }
    })());
  }
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function idMs(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}

/** Stream ids `ms-seq` compared numerically (BigInt: seq may exceed 2^53 in principle). */
export function compareIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}
