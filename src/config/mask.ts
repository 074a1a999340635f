import type { Config } from './schema.js';
import { isSecret } from './schema.js';

export const MASK = '********';

/**
 * Replaces the credentials inside a redis:// URL, where the URL parser ioredis uses (WHATWG URL)
 * finds them: the authority runs from `//` to the first `/`, `?` or `#`, and the userinfo is all
 * of it before its last `@` (so `redis://u:p@ss@h` has the password `p@ss`, all of it masked).
 * The user name, up to the first `:`, stays visible; without a `:` the whole userinfo is masked.
 * A `password` query parameter (which ioredis also honours) is masked too. A URL WHATWG cannot parse
 * (ioredis could not use it either) is masked from `//` up to its last `@`, wherever that is.
 */
export function maskUrlPassword(url: string): string {
  const m = /^(rediss?:\/\/)(.*)$/s.exec(url);
  if (m === null) return url;
  const [, scheme, rest] = m;
  if (!URL.canParse(url)) {
    const at = rest.lastIndexOf('@');
    return at === -1 ? url : `${scheme}${MASK}${rest.slice(at)}`;
  }
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  let out = url;
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const shown = colon === -1 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`;
    out = `${scheme}${shown}${rest.slice(at)}`;
  }
  // The query: `password=...` up to the next `&` or `#`.
  return out.replace(/([?&]password=)[^&#]*/gi, `$1${MASK}`);
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
