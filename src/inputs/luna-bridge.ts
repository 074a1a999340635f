import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { type Bus, type BusEvent, BusUnconfirmedError, createRedis, redisReason, withTimeout } from '../bus/index.js';
import { type Config, usesRedis } from '../config/index.js';
import { encodeBatch, parseLunaMessage } from '../events/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/**
 * The LUNA Handlers input (SPEC section 1): JSON messages PUBLISHed on `{prefix}:{account_id}`
 * become stream entries, once per message however many gateway processes and hosts run, and
 * none is lost when the bridge that forwards them dies (SPEC 11).
 *
 * Hot standby: every worker runs a bridge, and every bridge is subscribed to the channels and keeps
 * the messages of the last few seconds (`bufferMs`, above the longest takeover). Only the holder of
 * the Redis lease `luna-sender:bridge-lease` forwards. A stand-by tries to take the key every ttl/3
 * (set-if-absent with a PX ttl) once it is subscribed; the holder renews it every ttl/3 with a
 * compare-and-renew script and forwards a message only while its lease is valid by its own clock:
 * `validUntil` = the time it *sent* the last successful acquire/renew + ttl, so the server expires
 * the key no earlier than that moment. A new holder first forwards the messages it buffered, then
 * live ones: what the old holder received but had not appended when it died (or what arrived
 * during the takeover) is appended by its successor.
 *
 * Exactly once: every message is appended with an idempotency key derived from its channel and
 * bytes (the bus's `SET NX` inside the append script), kept for 2 x `bufferMs`, so the successor's
 * replay appends only what the old holder did not. Two messages with identical bytes on one
 * channel within `bufferMs` count as one; LUNA Handlers give every message its own
 * `Luna-Request-Id`, so only a true repeat is folded.
 *
 * The holder steps down when a renew answers "not yours", when its validity runs out without a
 * successful renew, or when its subscriber connection drops (it then also releases the lease, as
 * its buffer has a hole a stand-by's does not). On close it deletes the key if still its own, so a
 * successor takes over within ttl/3; after a crash within ttl + ttl/3.
 *
 * Inherent to pub/sub: messages PUBLISHed while no bridge at all is subscribed (every gateway
 * down, a Redis outage) are lost; Redis does not keep them. A bridge that just started has buffered
 * only since its own subscribe.
 */
export interface LunaBridgeOptions {
  /** Lease time to live in ms (default 3000); renewals and takeover attempts run every ttl/3. */
  leaseTtlMs?: number;
  leaseKey?: string;
}

const DEFAULT_LEASE_KEY = 'luna-sender:bridge-lease';

/** Take the lease when free, or keep it when it is already ours (a re-subscribing holder). */
const ACQUIRE_LUA = `local cur = redis.call('GET', KEYS[1])
if cur == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;
const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Escape glob characters so that the prefix matches only itself in PSUBSCRIBE. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

interface Buffered {
  readonly at: number;
  readonly channel: Buffer;
  readonly message: Buffer;
}

export class LunaBridge {
  private readonly ttl: number;
  /** How long messages are buffered (their idempotency keys are kept twice as long): above the longest takeover. */
  private readonly bufferMs: number;
  private readonly leaseKey: string;
  private readonly ownerId = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly prefix: string;
  private readonly publishTimeoutMs: number;
  private lease: Redis | undefined;
  private sub: Redis | undefined;
  /** Subscribed now: only then may this bridge take the lease (its buffer is complete since). */
  private subscribed = false;
  private holding = false;
  private validUntil = 0;
  private buffer: Buffered[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    options: LunaBridgeOptions = {},
  ) {
    this.ttl = options.leaseTtlMs ?? 3000;
    this.bufferMs = 2 * this.ttl + 2 * this.config.SENDER_REDIS_TIMEOUT * 1000;
    this.leaseKey = options.leaseKey ?? DEFAULT_LEASE_KEY;
    this.prefix = `${config.SENDER_LUNA_CHANNEL_PREFIX}:`;
    this.publishTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
  }

  /** Connects, subscribes as a stand-by and makes one attempt to take the lease; never rejects because Redis is down. */
  async start(): Promise<void> {
    const lease = createRedis(this.config, 'bridge-lease', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    let lastError: unknown;
    lease.on('error', (err: unknown) => {
      lastError = err;
      this.log.debug({ err: redisReason(err) }, 'LUNA bridge lease connection error');
    });
    this.lease = lease;
    try {
      await withTimeout(lease.connect(), this.publishTimeoutMs);
    } catch (err) {
      this.log.warn({ err: redisReason(lastError ?? err) }, 'LUNA bridge cannot reach Redis yet; will keep trying');
    }
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.floor(this.ttl / 3)));
  }

  isHolder(): boolean {
    return this.holding;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.lease === undefined) return;
    this.ticking = true;
    try {
      if (this.sub === undefined) await this.subscribe();
      if (this.holding) await this.renew(this.lease);
      else if (this.subscribed) await this.acquire(this.lease);
    } finally {
      this.ticking = false;
    }
  }

  /** The stand-by subscription every bridge keeps; a new connection when the last one dropped. */
  private async subscribe(): Promise<void> {
    const sub = createRedis(this.config, 'bridge-sub', { autoResubscribe: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    this.sub = sub;
    sub.on('error', (err: unknown) => this.log.debug({ err: redisReason(err) }, 'LUNA bridge subscriber connection error'));
    sub.on('pmessageBuffer', (_pattern: string, channel: Buffer, message: Buffer) => this.onMessage(sub, channel, message));
    sub.on('close', () => this.unsubscribed(sub));
    try {
      await withTimeout(sub.psubscribe(`${globEscape(this.prefix)}*`), this.publishTimeoutMs);
    } catch (err) {
      this.log.debug({ err: redisReason(err) }, 'LUNA bridge cannot subscribe yet');
      sub.disconnect();
      this.unsubscribed(sub);
      return;
    }
    if (this.sub === sub && !this.closed) this.subscribed = true;
  }

  /** The subscriber connection is gone: messages may be missed, so stop forwarding and let a stand-by take over. */
  private unsubscribed(sub: Redis): void {
    if (sub !== this.sub) return;
    this.sub = undefined;
    this.subscribed = false;
    this.buffer = [];
    if (this.holding) {
      this.stepDown('subscriber connection lost');
      const lease = this.lease;
      if (lease?.status === 'ready') void lease.eval(RELEASE_LUA, 1, this.leaseKey, this.ownerId).catch(() => undefined);
    }
  }

  private async acquire(lease: Redis): Promise<void> {
    if (lease.status !== 'ready') return;
    const sent = Date.now();
    let got: unknown;
    try {
      got = await withTimeout(lease.eval(ACQUIRE_LUA, 1, this.leaseKey, this.ownerId, this.ttl), Math.max(10, this.ttl / 3));
    } catch (err) {
      this.log.debug({ err: redisReason(err) }, 'LUNA bridge lease attempt failed');
      return;
    }
    if (got !== 1 || this.closed || !this.subscribed) return;
    this.validUntil = sent + this.ttl - Math.max(5, this.ttl / 100);
    this.holding = true;
    // What arrived before this bridge held the lease: the old holder may not have appended it.
    // Only messages younger than bufferMs: their idempotency keys (kept 2 x bufferMs) still exist.
    const backlog = this.buffer.filter((b) => b.at >= sent - this.bufferMs);
    for (const b of backlog) this.forward(b);
    this.metrics.lunaReplayedMessages += backlog.length;
    this.log.info({ pattern: `${this.prefix}*`, owner: this.ownerId, replayed: backlog.length }, 'LUNA bridge holds the lease; forwarding channel messages');
  }

  private async renew(lease: Redis): Promise<void> {
    const sent = Date.now();
    try {
      const ok = await withTimeout(lease.eval(RENEW_LUA, 1, this.leaseKey, this.ownerId, this.ttl), Math.max(10, this.ttl / 3));
      if (ok === 1) this.validUntil = sent + this.ttl - Math.max(5, this.ttl / 100);
      else this.stepDown('lease taken by another bridge');
    } catch (err) {
      if (Date.now() >= this.validUntil) this.stepDown(`lease expired: ${redisReason(err)}`);
    }
  }

  /** Stop forwarding at once (the stand-by subscription stays); the lease is left to expire or is no longer ours. */
  private stepDown(reason: string): void {
    if (!this.holding) return;
    this.holding = false;
    if (!this.closed) this.log.warn({ reason }, 'LUNA bridge stopped forwarding');
  }

  private onMessage(sub: Redis, channel: Buffer, message: Buffer): void {
    if (sub !== this.sub) return;
    const now = Date.now();
    const b: Buffered = { at: now, channel, message };
    this.buffer.push(b);
    let drop = 0;
    while (drop < this.buffer.length && this.buffer[drop].at < now - this.bufferMs) drop++;
    if (drop > 0) this.buffer = this.buffer.slice(drop);
    if (!this.holding) return;
    if (now >= this.validUntil) {
      // Checked per message: renewals run on a timer, which a busy event loop may delay.
      this.stepDown('lease validity ran out');
      return;
    }
    this.forward(b);
  }

  /** Appends one message (idempotently: a successor may forward it again). */
  private forward({ channel, message }: Buffered): void {
    const channelText = channel.toString('utf8');
    const parsed = parseLunaMessage(this.prefix, channelText, message);
    if (typeof parsed === 'string') {
      this.metrics.malformedLunaMessages++;
      this.log.warn({ channel: channelText, reason: parsed }, 'malformed LUNA message skipped');
      return;
    }
    let events: BusEvent[];
    try {
      events = encodeBatch(parsed.account, message, parsed.batch, parsed.requestId);
    } catch (err) {
      this.metrics.malformedLunaMessages++;
      this.log.warn({ channel: channelText, reason: (err as Error).message }, 'malformed LUNA message skipped');
      return;
    }
    const idempotencyKey = `luna:${createHash('sha1').update(channel).update('\n').update(message).digest('base64url')}`;
    // Issued in arrival order on one connection, so the stream keeps the channel's order.
    this.bus.publish(events, this.publishTimeoutMs, { idempotencyKey, idempotencyTtlMs: 2 * this.bufferMs }).then(
      () => {
        this.metrics.publishedEvents += events.length;
      },
      (err: unknown) => {
        this.metrics.publishFailures++;
        const fields = { request_id: parsed.requestId, account: parsed.account, err: (err as Error).message };
        // Unconfirmed (SENDER_REDIS_MIN_REPLICAS): appended, but fewer replicas than asked hold it.
        if (err instanceof BusUnconfirmedError) this.log.warn(fields, 'LUNA message appended but not confirmed by the replicas');
        else this.log.error(fields, 'LUNA message lost: the bus refused it');
      },
    );
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const wasHolding = this.holding;
    this.stepDown('closing');
    const sub = this.sub;
    this.sub = undefined;
    sub?.disconnect();
    const lease = this.lease;
    if (lease === undefined) return;
    if (wasHolding && lease.status === 'ready') {
      await withTimeout(lease.eval(RELEASE_LUA, 1, this.leaseKey, this.ownerId), this.publishTimeoutMs).catch(() => undefined);
    }
    if (lease.status === 'ready') await withTimeout(lease.quit(), this.publishTimeoutMs).catch(() => lease.disconnect());
    else lease.disconnect();
  }
}

/**
 * The LUNA Handlers channel lives in Redis: with Redis configured every worker runs a bridge (one
 * holds the lease); without it there is no channel and nothing to start.
 */
export async function startLunaBridge(config: Config, log: Logger, bus: Bus, metrics: Metrics): Promise<{ close(): Promise<void> } | undefined> {
  if (!usesRedis(config)) return undefined;
  const bridge = new LunaBridge(config, log, bus, metrics);
  await bridge.start();
  return bridge;
}
