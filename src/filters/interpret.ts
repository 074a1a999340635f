import { FACT_PATHS, type FactKey, FIELD_BY_NAME, type Field, type GeoBox } from './fields.js';
import type { Filter } from './params.js';

/*
 * The oracle: evaluates a filter directly on the raw event, walking the SPEC section 4 paths of
 * FACT_PATHS itself, without facts.ts. `compileFilter(f)(extractFacts(e, h))` must always equal
 * `interpretFilter(f, e, h)`: the property tests check extraction and code generation at once.
 * Also usable as a fallback (it is ~10x slower than the compiled predicate).
 */

function plain(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function walk(x: unknown, path: readonly string[]): unknown {
  let cur = x;
  for (const k of path) {
    if (!plain(cur) || !Object.hasOwn(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** Every `e.matches[i]` that is an object. */
function matchObjects(event: unknown): Record<string, unknown>[] {
  const m = walk(event, ['matches']);
  return Array.isArray(m) ? m.filter(plain) : [];
}

function rawValue(key: FactKey, event: unknown, handlerId: string): unknown {
  switch (key) {
    case 'handler_id':
      return handlerId;
    case 'labels': {
      if (!Array.isArray(walk(event, ['matches']))) return undefined;
      return matchObjects(event).map((m) => walk(m, ['label']));
    }
    case 'similarity': {
      const sims: number[] = [];
      for (const m of matchObjects(event)) {
        const cands = walk(m, ['candidates']);
        if (!Array.isArray(cands)) continue;
        for (const c of cands) {
          const s = walk(c, ['similarity']);
          if (typeof s === 'number') sims.push(s);
        }
      }
      return sims.length === 0 ? undefined : sims.reduce((a, b) => Math.max(b, a));
    }
    default:
      return walk(event, FACT_PATHS[key].path);
  }
}

const isString = (x: unknown): x is string => typeof x === 'string';

function holds(field: Field, want: unknown, raw: unknown, rawLat: unknown): boolean {
  switch (field.kind) {
    case 'uuid-list': {
      const list = want as readonly string[];
      return isString(raw) && (list.includes(raw) || list.includes(raw.toLowerCase()));
    }
    case 'string-list':
    case 'name-list':
    case 'word-list':
      return isString(raw) && (want as readonly string[]).includes(raw);
    case 'code-list':
      return typeof raw === 'number' && (want as readonly number[]).includes(raw);
    case 'code':
      return typeof raw === 'number' && raw === want;
    case 'bound':
      return typeof raw === 'number' && (field.op === 'gte' ? raw >= (want as number) : raw < (want as number));
    case 'any-of':
      return Array.isArray(raw) && raw.some((x) => isString(x) && (want as readonly string[]).includes(x));
    case 'tags':
      return Array.isArray(raw) && (want as readonly string[]).every((t) => raw.some((x) => isString(x) && x === t));
    case 'substring':
      return isString(raw) && raw.includes(want as string);
    case 'geo': {
      const g = want as GeoBox;
      if (typeof raw !== 'number' || typeof rawLat !== 'number') return false;
      if (!(Math.abs(rawLat - g.lat) <= g.dlat)) return false;
      let d = Math.abs(raw - g.lon) % 360;
      if (d > 180) d = 360 - d;
      return d <= g.dlon;
    }
  }
}

/** Does the event (the raw `event` object of a message with `handlerId`) pass the filter? */
export function interpretFilter(f: Filter, event: unknown, handlerId: string): boolean {
  const given = f as Readonly<Record<string, unknown>>;
  for (const name of Object.keys(given)) {
    const field = FIELD_BY_NAME.get(name);
    if (field === undefined || given[name] === undefined) continue;
    const raw = rawValue(field.fact, event, handlerId);
    const rawLat = field.kind === 'geo' ? rawValue(field.latFact, event, handlerId) : undefined;
    if (!holds(field, given[name], raw, rawLat)) return false;
  }
  return true;
}
