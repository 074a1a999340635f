import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { type Bus, type BusEvent, createRedis, redisReason, withTimeout } from '../bus/index.js';
import { type Config, usesRedis } from '../config/index.js';
import { encodeBatch, parseLunaMessage } from '../events/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/**
 * The LUNA Handlers input (SPEC section 1): JSON messages PUBLISHed on `{prefix}:{account_id}`
 * become stream entries, once per message however many gateway processes and hosts run.
 *
 * Lease: every worker runs a bridge; only the holder of the Redis key `luna-sender:bridge-lease`
 * subscribes. A stand-by tries to take the key every ttl/3 (set-if-absent with a PX ttl); the
 * holder renews it every ttl/3 with a compare-and-renew script and forwards a message only while
 * its lease is valid by its own clock: `validUntil` = the time it *sent* the last successful
 * acquire/renew + ttl. The server expires the key no earlier than that moment, so a successor
 * (which must wait for the expiry) subscribes only after the old holder stopped forwarding: a
 * message is never forwarded by two holders. The holder steps down (disconnects its subscriber at
 * once) when a renew answers "not yours", when its validity runs out without a successful renew,
 * or when its subscriber connection drops (after a Redis restart the key may be gone and another
 * bridge may already hold it). On close it deletes the key if still its own, so a successor takes
 * over within ttl/3; after a crash within ttl + ttl/3.
 *
 * Inherent to pub/sub: messages PUBLISHed while no bridge is subscribed (takeover, a dropped
 * subscriber connection, a Redis outage) are lost; Redis does not keep them. Also inherent: with
 * Redis replication, a failover can lose the lease key and briefly allow two holders.
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

export class LunaBridge {
  private readonly ttl: number;
  private readonly leaseKey: string;
  private readonly ownerId = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly prefix: string;
  private readonly publishTimeoutMs: number;
  private lease: Redis | undefined;
  private sub: Redis | undefined;
  private holding = false;
  private validUntil = 0;
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
    this.leaseKey = options.leaseKey ?? DEFAULT_LEASE_KEY;
    this.prefix = `${config.SENDER_LUNA_CHANNEL_PREFIX}:`;
    this.publishTimeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;
  }

  /** Connects and makes one attempt to take the lease; never rejects because Redis is down. */
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
      if (this.sub !== undefined) await this.renew(this.lease);
      else await this.acquire(this.lease);
    } finally {
      this.ticking = false;
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
    if (got !== 1 || this.closed) return;
    this.validUntil = sent + this.ttl - Math.max(5, this.ttl / 100);
    const sub = createRedis(this.config, 'bridge-sub', { autoResubscribe: false, maxRetriesPerRequest: 0 });
    this.sub = sub;
    sub.on('error', (err: unknown) => this.log.debug({ err: redisReason(err) }, 'LUNA bridge subscriber connection error'));
    sub.on('pmessageBuffer', (_pattern: string, channel: Buffer, message: Buffer) => this.onMessage(sub, channel, message));
    sub.on('close', () => this.stepDown(sub, 'subscriber connection lost'));
    try {
      await withTimeout(sub.psubscribe(`${globEscape(this.prefix)}*`), this.publishTimeoutMs);
    } catch (err) {
      this.stepDown(sub, `cannot subscribe: ${redisReason(err)}`);
      return;
    }
    if (this.sub !== sub) return;
    // Holding means subscribed: isHolder() turns true only once messages can arrive.
    this.holding = true;
    this.log.info({ pattern: `${this.prefix}*`, owner: this.ownerId }, 'LUNA bridge holds the lease; forwarding channel messages');
  }

  private async renew(lease: Redis): Promise<void> {
    const sent = Date.now();
    try {
      const ok = await withTimeout(lease.eval(RENEW_LUA, 1, this.leaseKey, this.ownerId, this.ttl), Math.max(10, this.ttl / 3));
      if (ok === 1) this.validUntil = sent + this.ttl - Math.max(5, this.ttl / 100);
      else this.stepDown(this.sub, 'lease taken by another bridge');
    } catch (err) {
      if (Date.now() >= this.validUntil) this.stepDown(this.sub, `lease expired: ${redisReason(err)}`);
    }
  }

  /** Stop forwarding at once; the lease itself is left to expire (or is no longer ours). */
  private stepDown(sub: Redis | undefined, reason: string): void {
    if (sub === undefined || sub !== this.sub) return;
    this.holding = false;
    this.sub = undefined;
    sub.disconnect();
    if (!this.closed) this.log.warn({ reason }, 'LUNA bridge stopped forwarding');
  }

  private onMessage(sub: Redis, channel: Buffer, message: Buffer): void {
    if (sub !== this.sub || !this.holding) return;
    if (Date.now() >= this.validUntil) {
      // Checked per message: renewals run on a timer, which a busy event loop may delay.
      this.stepDown(sub, 'lease validity ran out');
      return;
    }
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
    // Issued in arrival order on one connection, so the stream keeps the channel's order.
    this.bus.publish(events, this.publishTimeoutMs).then(
      () => {
        this.metrics.publishedEvents += events.length;
      },
      (err: unknown) => {
        this.metrics.publishFailures++;
        this.log.error({ request_id: parsed.requestId, account: parsed.account, err: (err as Error).message }, 'LUNA message lost: the bus refused it');
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
    const wasHolding = this.sub !== undefined;
    this.stepDown(this.sub, 'closing');
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
