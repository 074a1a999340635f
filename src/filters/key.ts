import { createHash } from 'node:crypto';
import type { Filter } from './params.js';

/** JSON with object keys sorted at every level; arrays keep their (already normalised) order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The canonical key of a normalised filter: equal filters (whatever the order of parameters and
 * list items in the query, and duplicates) give the same string, different filters different
 * strings. Lists are sorted and de-duplicated here too, so a Filter built by hand also keys right.
 */
export function filterKey(f: Filter): string {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    o[k] = Array.isArray(v) ? [...new Set(v)].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : a < b ? -1 : a > b ? 1 : 0)) : v;
  }
  return canonical(o);
}

/**
 * The uWS topic of (account, filter key): `account/` + 27 characters of base64url SHA-1 of the
 * key. SHA-1 is not used for security here, only as a short, deterministic, collision-free-in-practice
 * name; the registry maps keys to topics, so the key itself never has to fit in a topic name.
 */
export function filterTopic(account: string, key: string): string {
  return `${account}/${createHash('sha1').update(key).digest('base64url')}`;
}
