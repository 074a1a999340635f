import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withTimeout } from './redis-client.js';

/**
 * The epoch of the Redis stream (SPEC section 9) lives in a key beside it, `<stream>:epoch`.
 *
 * One rule, applied by the publish script (redis-publisher.ts) and by the reader's script below,
 * each atomically: when the epoch key is missing or the stream key does not exist, the history is
 * lost (a new, deleted or flushed stream, a Redis that came back empty), so a new random epoch is
 * written. Whoever applies the rule also makes the stream exist (the publisher by its XADD, the
 * reader by `XGROUP CREATE ... MKSTREAM` and `DESTROY`, which leaves an empty stream), so the rule
 * fires once per loss and not again at the first publish after a reader started on an empty Redis.
 */
export const EPOCH_RE = /^[A-Za-z0-9_-]{1,64}$/;

export function epochKey(streamKey: string): string {
  return `${streamKey}:epoch`;
}

/** 12 base64url characters (72 random bits). */
export function newEpoch(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * KEYS[1] stream, KEYS[2] epoch key; ARGV[1] a fresh epoch, ARGV[2] the epoch the caller wants
 * replaced ('' for none: a stream recreated by someone who does not write epochs). Returns the
 * epoch in force afterwards: the stored one, or ARGV[1] when the rule above (or ARGV[2]) applied.
 * Several readers detecting the same loss agree: the first replaces, the others find it replaced.
 */
const ENSURE_EPOCH_LUA = `local cur = redis.call('GET', KEYS[2])
local exists = redis.call('EXISTS', KEYS[1]) == 1
if cur and exists and cur ~= ARGV[2] then return cur end
redis.call('SET', KEYS[2], ARGV[1])
if not exists then
  redis.call('XGROUP', 'CREATE', KEYS[1], 'luna-sender-epoch', '$', 'MKSTREAM')
  redis.call('XGROUP', 'DESTROY', KEYS[1], 'luna-sender-epoch')
end
return ARGV[1]`;
const ENSURE_EPOCH_SHA = createHash('sha1').update(ENSURE_EPOCH_LUA).digest('hex');

/** The epoch in force (creating one where the rule says so), replacing `replace` if it still stands. */
export async function ensureEpoch(r: Redis, streamKey: string, replace: string, timeoutMs: number): Promise<string> {
  const args = [2, streamKey, epochKey(streamKey), newEpoch(), replace] as const;
  const run = async (): Promise<unknown> => {
    try {
      return await r.evalsha(ENSURE_EPOCH_SHA, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await r.eval(ENSURE_EPOCH_LUA, ...args);
    }
  };
  return String(await withTimeout(run(), timeoutMs, () => r.disconnect()));
}
