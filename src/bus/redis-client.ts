import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/index.js';

/** Reconnect delay: 50 ms doubling to a 2 s cap, so a restart is noticed fast and an outage costs little. */
export function backoffMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 2000);
}

/** Where to connect, from REDIS_URL (`redis[s]://[user:password@]host:port[/db]`) and REDIS_SENTINELS. */
export function connectionOptions(config: Config): RedisOptions {
  const opts: RedisOptions = {};
  if (config.REDIS_URL !== '') {
    const url = new URL(config.REDIS_URL);
    if (url.username !== '') opts.username = decodeURIComponent(url.username);
    if (url.password !== '') opts.password = decodeURIComponent(url.password);
    const db = url.pathname.replace(/^\//, '');
    if (db !== '') {
      if (!/^[0-9]+$/.test(db)) throw new Error(`REDIS_URL: database '${db}' is not a number`);
      opts.db = Number(db);
    }
    opts.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    // SNI takes a host name only, never an IP address.
    if (url.protocol === 'rediss:') opts.tls = isIP(opts.host) === 0 ? { servername: opts.host } : {};
    opts.port = url.port === '' ? 6379 : Number(url.port);
  }
  if (config.REDIS_SENTINELS !== '') {
    // With Sentinels, REDIS_URL only supplies credentials and db; host and port come from the
    // Sentinels' answer for REDIS_SENTINEL_NAME, re-asked on every reconnect (so a failover is followed).
    delete opts.host;
    delete opts.port;
    opts.sentinels = config.REDIS_SENTINELS.split(',').map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    });
    opts.name = config.REDIS_SENTINEL_NAME;
    if (config.REDIS_SENTINEL_PASSWORD !== '') opts.sentinelPassword = config.REDIS_SENTINEL_PASSWORD;
    opts.sentinelRetryStrategy = backoffMs;
  }
  return opts;
}

/**
 * One Redis connection for one purpose (`publisher`, `reader`, `bridge-lease`, ...), named
 * `luna-sender:<purpose>:<pid>` in CLIENT LIST. `overrides` carries the per-role behaviour:
 * the publisher disables the offline queue (a publish during an outage fails fast instead of
 * waiting), the blocking reader sets `maxRetriesPerRequest: null`.
 */
export function createRedis(config: Config, purpose: string, overrides: RedisOptions = {}): Redis {
  return new Redis({
    ...connectionOptions(config),
    connectionName: `luna-sender:${purpose}:${process.pid}`,
    connectTimeout: Math.max(1000, config.SENDER_REDIS_TIMEOUT * 1000),
    retryStrategy: backoffMs,
    // CLIENT SETINFO is Redis 7.2+; older servers answer it with an error we do not want to see.
    disableClientInfo: true,
    ...overrides,
  });
}

/** A short reason for an ioredis error, used in 503 details and /healthcheck ('redis: ...'). */
export function redisReason(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  const code = e?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ETIMEDOUT') return 'connect timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection lost';
  const msg = e?.message ?? String(err);
  if (/max retries per request|Connection is closed/i.test(msg)) return 'connection lost';
  if (/enableOfflineQueue|Stream isn't writeable/i.test(msg)) return 'not connected';
  if (/^NOAUTH|^WRONGPASS/.test(msg)) return 'authentication failed';
  return msg.split('\n')[0].slice(0, 200);
}

/**
 * `p`, or a rejection after `ms`: with `error()` (default `timeout after <ms>ms`), after running
 * `onTimeout` (e.g. drop the connection, so that its pending commands end too). The one timeout
 * helper of the Redis code; the timer is always cleared.
 */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  onTimeout?: () => void,
  error: () => Error = () => new Error(`timeout after ${ms}ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout?.();
          reject(error());
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
