import { isSecret } from './schema.js';
import type { Config } from './schema.js';

export const MASK = '********';

/** Replaces the password inside a redis:// URL (user:password@ or :password@). */
export function maskUrlPassword(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon === -1 ? `${scheme}${MASK}@` : `${scheme}${auth.slice(0, colon)}:${MASK}@`;
  });
}

/** The effective configuration as /config shows it: secrets masked, URLs keep all but the password. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (!isSecret(k) || v === '') out[k] = v;
    else if (typeof v === 'string' && /^rediss?:\/\//.test(v)) out[k] = maskUrlPassword(v);
    else out[k] = MASK;
  }
  return out;
}

/** `KEY = value` lines; nested objects would be joined with dots (the config is flat today). */
export function configAsText(obj: Record<string, unknown>, prefix = ''): string {
  let text = '';
  for (const [k, v] of Object.entries(obj)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) text += configAsText(v as Record<string, unknown>, `${prefix}${k}.`);
    else text += `${prefix}${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}\n`;
  }
  return text;
}
