import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Config, ConfigSchema, keySchema } from './schema.js';
import { tlsProblems } from './tls.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** What a key allows, in words, for the error message. */
export function describeAllowed(s: TSchema): string {
  if (s.anyOf) return `one of ${(s.anyOf as TSchema[]).map((x) => JSON.stringify(x.const)).join(', ')}`;
  const parts: string[] = [];
  const type = s.type === 'integer' ? 'an integer' : s.type === 'number' ? 'a number' : 'a string';
  parts.push(type);
  if (s.minimum !== undefined) parts.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`<= ${s.maximum}`);
  if (s.minLength) parts.push('not empty');
  if (s.pattern) parts.push(`matching /${s.pattern}/`);
  return parts.join(' ');
}

/** Environment values are text; turn them into the schema's type without guessing. */
function fromText(s: TSchema, text: string): unknown {
  if (s.type === 'integer') return /^-?[0-9]+$/.test(text.trim()) ? Number(text.trim()) : text;
  if (s.type === 'number') return /^-?[0-9]+(\.[0-9]+)?$/.test(text.trim()) ? Number(text.trim()) : text;
  return text;
}

/**
 * Builds the frozen configuration from defaults, the SENDER_CONFIG JSON file and the environment
 * (environment wins). Every bad key is reported, not just the first. This is the only reader of
 * process.env for settings.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw: Record<string, unknown> = Object.create(null);
  const file = env.SENDER_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError([`SENDER_CONFIG: cannot read JSON file '${file}': ${(e as Error).message}`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`SENDER_CONFIG: file '${file}' must hold a JSON object`]);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (!keySchema(k)) problems.push(`${k}: unknown key in '${file}'`);
      else raw[k] = v;
    }
  }
  for (const key of Object.keys(ConfigSchema.properties)) {
    const text = env[key];
    if (text !== undefined) raw[key] = fromText(keySchema(key)!, text);
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(ConfigSchema.properties as Record<string, TSchema>)) {
    const value = key in raw ? raw[key] : s.default;
    if (!Value.Check(s, value)) {
      problems.push(`${key}: ${JSON.stringify(value)} is not allowed; expected ${describeAllowed(s)}`);
      continue;
    }
    out[key] = value;
  }
  if (problems.length === 0) problems.push(...tlsProblems(out as unknown as Config));
  if (problems.length === 0 && out.SENDER_AUTH === 'jwt' && out.SENDER_AUTH_HMAC_SECRETS === '' && out.SENDER_AUTH_PUBLIC_KEYS === '') {
    // Refused here, before any worker starts: a gateway that can verify no token would refuse everyone.
    problems.push('SENDER_AUTH: "jwt" needs a key: set SENDER_AUTH_HMAC_SECRETS or SENDER_AUTH_PUBLIC_KEYS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as Config;
}

/** Workers to run: SENDER_WORKERS, or one per CPU with Redis; the in-process bus is one process. */
export function workerCount(config: Config, cpus: number): number {
  if (config.REDIS_URL === '' && config.REDIS_SENTINELS === '') return 1;
  return config.SENDER_WORKERS > 0 ? config.SENDER_WORKERS : Math.max(1, cpus);
}

export function usesRedis(config: Config): boolean {
  return config.REDIS_URL !== '' || config.REDIS_SENTINELS !== '';
}
