import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { type BusEvent, BusUnavailableError, BusUnconfirmedError, type PublishOptions } from './bus.js';
import { createRedis, redisReason, withTimeout } from './redis-client.js';
import { epochKey, newEpoch } from './redis-epoch.js';

/**
 * Appends a batch atomically, unless the server's clock is past the deadline (ARGV[1], ms since
 * the epoch in server time): a command that reaches Redis late (it sat in a socket buffer while
 * the server hung, or was re-sent) appends nothing. The check and the XADDs run in one script, so
 * nothing interleaves. All-or-nothing: the first write passes Redis's OOM gate for the whole script
 * (later writes of a script are not refused), and XADD with `*` cannot fail otherwise once the
 * first one succeeded. Returns the new ids, or -1 past the deadline.
 *
 * Epoch (redis-epoch.ts): KEYS[2] holds it; when it is missing or the stream (KEYS[1]) does not
 * exist, the history is lost and ARGV[3], a fresh random epoch, replaces it. Every entry carries
 * the epoch in `e`, so readers see the change at the first entry of the new history.
 *
 * Idempotency (KEYS[3], present only with an Idempotency-Key): `SET NX PX` (ARGV[4] ms) in the
 * same script as the XADDs, so a retry after a timed-out publish never appends twice, and a
 * publish refused at the deadline records no key. A repeat returns 0 after rewriting the key
 * (KEEPTTL): a replicated write, so that a WAIT after it also covers the first publish's batch.
 */
const PUBLISH_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[1]) then return -1 end
if KEYS[3] and not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then
  redis.call('SET', KEYS[3], '1', 'KEEPTTL')
  return 0
end
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local ids = {}
for i = 5, #ARGV, 3 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'a', ARGV[i], 'f', ARGV[i + 1], 'p', ARGV[i + 2], 'e', epoch)
end
return ids`;
const PUBLISH_SHA = createHash('sha1').update(PUBLISH_LUA).digest('hex');

/**
 * The write half of the Redis stream bus: one connection without an offline queue, so a publish
 * during an outage fails at once, and a publish that misses its deadline never takes effect later
 * (the deadline is checked by the script on the server; a timed-out connection is replaced).
 */
export class RedisPublisher {
  private readonly key: string;
  private readonly epochKey: string;
  private readonly maxlen: string;
  private readonly redisTimeoutMs: number;
  private readonly idempotencyTtl: string;
  private readonly minReplicas: number;
  private pub: Redis;
  /** Per connection: the clock estimate and SCRIPT LOAD done on its latest `ready` (never rejects). */
  private readonly prepared = new WeakMap<Redis, Promise<void>>();
  /** Why the publisher is not usable, for the 503 detail; undefined while it is ready. */
  private pubReason: string | undefined;
  /** Server clock minus local clock, and the uncertainty of that estimate (ms). */
  private clockOffset = 0;
  private clockUncertainty = 0;
  private closed = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.key = config.SENDER_STREAM_KEY;
    this.epochKey = epochKey(config.SENDER_STREAM_KEY);
    this.maxlen = String(config.SENDER_STREAM_MAXLEN);
    this.redisTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
    this.minReplicas = config.SENDER_REDIS_MIN_REPLICAS;
    this.idempotencyTtl = String(Math.max(1, Math.round(config.SENDER_IDEMPOTENCY_TTL * 1000)));
    this.pub = this.newPublisher();
  }

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

  async publish(batch: readonly BusEvent[], timeoutMs: number, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new BusUnavailableError('redis: bus closed');
    if (batch.length === 0) return;
    const started = Date.now();
    // The latest server time at which the script may still append. It is earlier than our own
    // timeout by the clock uncertainty and by a margin for the reply to travel back, so that a
    // batch appended just in time is, as a rule, also acknowledged in time.
    // With replicas to wait for, the script gets half of the budget and WAIT the rest.
    const replyMargin = Math.min(250, timeoutMs / 4);
    const scriptBudget = this.minReplicas > 0 ? timeoutMs / 2 : timeoutMs;
    const deadline = Math.floor(started + scriptBudget - replyMargin + this.clockOffset - this.clockUncertainty);
    const keys = [this.key, this.epochKey];
    if (options.idempotencyKey !== undefined) keys.push(`${this.key}:idem:${options.idempotencyKey}`);
    const ttl = options.idempotencyTtlMs !== undefined ? String(Math.max(1, Math.round(options.idempotencyTtlMs))) : this.idempotencyTtl;
    const args: (string | Buffer)[] = [...keys, String(deadline), this.maxlen, newEpoch(), ttl];
    for (const ev of batch) args.push(ev.account, asBuffer(ev.frame), asBuffer(ev.facts));
    const pub = this.pub;
    const timedOut = () => new BusUnavailableError(`redis: timeout after ${timeoutMs}ms`);
    // On timeout the command may still be in a socket buffer or in the server's input queue. The
    // deadline makes it a no-op there; dropping the connection keeps later publishes off a hung socket.
    const onTimeout = () => this.replacePublisher(pub);
    let appended = false;
    let acks = -1;
    const work = async (): Promise<unknown> => {
      const result = await this.append(pub, keys.length, args);
      if (result === -1 || this.minReplicas === 0) return result;
      appended = true;
      // WAIT covers every write of this connection so far: this batch, or (a repeated key) the
      // script's rewrite of the key, which comes after the first publish's batch. At least 1 ms:
      // WAIT 0 would block for ever.
      const waitMs = Math.max(1, Math.floor(timeoutMs - (Date.now() - started) - replyMargin));
      acks = Number(await pub.call('WAIT', String(this.minReplicas), String(waitMs)));
      return result;
    };
    let result: unknown;
    try {
      result = await withTimeout(work(), timeoutMs, onTimeout, timedOut);
    } catch (err) {
      if (appended) throw this.unconfirmed(acks, redisReason(err));
      if (err instanceof BusUnavailableError) throw err;
      throw new BusUnavailableError(`redis: ${redisReason(err)}`);
    }
    if (result === -1) throw timedOut();
    if (appended && acks < this.minReplicas) throw this.unconfirmed(acks, 'WAIT timed out');
  }

  private unconfirmed(acks: number, why: string): BusUnconfirmedError {
    const got = acks < 0 ? 'no answer' : `${acks} of ${this.minReplicas}`;
    return new BusUnconfirmedError(`redis: written, but replicas confirmed ${got} (${why})`);
  }

  /** `args`: the `numKeys` keys, then ARGV. */
  private async append(pub: Redis, numKeys: number, args: (string | Buffer)[]): Promise<unknown> {
    await this.whenReady(pub);
    // After the script is loaded, so that EVALSHA does not meet NOSCRIPT and fall back to EVAL
    // out of order with the publishes behind it (the LUNA bridge relies on the order of calls).
    await this.prepared.get(pub);
    try {
      return await pub.evalsha(PUBLISH_SHA, numKeys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await pub.eval(PUBLISH_LUA, numKeys, ...args);
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
    try {
      await withTimeout(
        this.whenReady(pub).then(() => pub.ping()),
        timeoutMs,
        undefined,
        () => new Error(`redis: timeout after ${timeoutMs}ms`),
      );
    } catch (err) {
      const msg = (err as Error).message;
      throw new Error(msg.startsWith('redis: ') ? msg : `redis: ${redisReason(err)}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pub = this.pub;
    if (pub.status === 'ready') {
      await withTimeout(pub.quit(), this.redisTimeoutMs, () => pub.disconnect()).catch(() => pub.disconnect());
    } else {
      pub.disconnect();
    }
  }
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
