import type { Config } from '../config/index.js';
import { usesRedis } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Bus } from './bus.js';
import { MemoryBus } from './memory.js';

/** The bus this configuration asks for: Redis stream when Redis is configured, else in-process. */
export async function createBus(config: Config, log: Logger): Promise<Bus> {
  if (!usesRedis(config)) return new MemoryBus({ idempotencyTtlMs: config.SENDER_IDEMPOTENCY_TTL * 1000 });
  const { RedisStreamBus } = await import('./redis-stream.js');
  return new RedisStreamBus(config, log);
}
