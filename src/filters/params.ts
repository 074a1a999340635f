import { UUID_RE } from '../events/ids.js';
import { describeCodes, FIELD_BY_NAME, FIELDS, type Field, type GeoBox, type KindValue } from './fields.js';

/**
 * A normalised filter: only the parameters given, keys in the order of the SPEC table, lists
 * de-duplicated and sorted, codes converted to what the event carries (names for the name lists,
 * numbers for the code lists), bounds as numbers, geo as a box. Plain JSON: it is hashed into the
 * filter key and may be logged.
 */
export type Filter = { readonly [F in (typeof FIELDS)[number] as F['name']]?: KindValue[F['kind']] };

export interface QueryLimits {
  /** most items a list parameter may have as given, before duplicates are dropped (SPEC: 100) */
  readonly maxListItems: number;
}

export type ParseResult =
  | {
      readonly ok: true;
      readonly filter: Filter;
      readonly accountId: string | undefined;
      /** Decoded values of the session parameters given (not filters; their callers check them). */
      readonly session: ReadonlyMap<SessionParam, string>;
    }
  | { readonly ok: false; readonly param: string; readonly detail: string };

const ACCOUNT_PARAM = 'luna_account_id';
/**
 * Query parameters that are not filters but belong to the subscription (the account, SPEC 3;
 * positions and resume, SPEC 9): known names, so they are not "unknown", and checked like the
 * others for repetition and emptiness; their values are the handshake's to check.
 */
export const SESSION_PARAMS = [ACCOUNT_PARAM, 'positions', 'resume'] as const;
export type SessionParam = (typeof SESSION_PARAMS)[number];
const SESSION: ReadonlySet<string> = new Set(SESSION_PARAMS);
const INT_RE = /^-?[0-9]+$/;
/** Plain decimals only: no exponent, no leading `+` or `.`, no Infinity/NaN. */
const DECIMAL_RE = /^-?[0-9]+(\.[0-9]+)?$/;
/** UUIDs are accepted in any case (RFC 4122: case-insensitive on input) and normalised to lower case. */
const GEO_KEYS = ['origin_longitude', 'origin_latitude', 'longitude_delta', 'latitude_delta'] as const;
const GEO_DEFAULT_DELTA = 0.01;
/** Echoed values are cut so an error body stays small whatever the query. */
const ECHO_MAX = 64;

/** Thrown inside this module only; parseFilterQuery turns it into its result value. */
class BadParam {
  constructor(
    readonly param: string,
    readonly detail: string,
  ) {}
}

function echo(s: string): string {
  const cps = [...s];
  return cps.length > ECHO_MAX ? `${cps.slice(0, ECHO_MAX).join('')}...` : s;
}

function bad(param: string, why: string): BadParam {
  return new BadParam(param, `Bad query parameter '${echo(param)}': ${why}`);
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined; // malformed %-escape or one that is not UTF-8
  }
}

/** Comma-separated items, trimmed; an empty item or too many items is an error. */
function items(name: string, value: string, limits: QueryLimits): string[] {
  const parts = value.split(',');
  if (parts.length > limits.maxListItems) throw bad(name, `at most ${limits.maxListItems} items are allowed, got ${parts.length}`);
  const out: string[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (t === '') throw bad(name, `empty item in list '${echo(value)}'`);
    out.push(t);
  }
  return out;
}

function uniqueSorted<T extends string | number>(xs: readonly T[]): T[] {
  const u = [...new Set(xs)];
  return typeof u[0] === 'number' ? ((u as number[]).sort((a, b) => a - b) as T[]) : u.sort();
}

function code(name: string, item: string, codes: Readonly<Record<number, string>>): number {
  if (INT_RE.test(item)) {
    const n = Number(item);
    if (Object.hasOwn(codes, n)) return n;
  }
  throw bad(name, `expected one of ${describeCodes(codes)}, got '${echo(item)}'`);
}

function number(name: string, item: string, integer: boolean, min: number, max: number, what: string): number {
  const ok = integer ? INT_RE.test(item) : DECIMAL_RE.test(item);
  const n = Number(item);
  if (ok && n >= min && n <= max) return n;
  throw bad(name, `expected ${what} in ${min}..${max}, got '${echo(item)}'`);
}

function geo(name: string, value: string, limits: QueryLimits): GeoBox {
  const xs = items(name, value, limits);
  if (xs.length % 2 !== 0) throw bad(name, `expected key,value pairs (${GEO_KEYS.join(', ')}), got '${echo(value)}'`);
  const got = new Map<string, number>();
  for (let i = 0; i < xs.length; i += 2) {
    const key = xs[i];
    const v = xs[i + 1];
    if (!(GEO_KEYS as readonly string[]).includes(key)) throw bad(name, `unknown key '${echo(key)}', expected one of ${GEO_KEYS.join(', ')}`);
    if (got.has(key)) throw bad(name, `key '${key}' is given more than once`);
    const n =
      key === 'origin_longitude'
        ? number(name, v, false, -180, 180, `${key} as a decimal number`)
        : key === 'origin_latitude'
          ? number(name, v, false, -90, 90, `${key} as a decimal number`)
          : Number(v);
    if (key === 'longitude_delta' && !(DECIMAL_RE.test(v) && n > 0 && n <= 180)) {
      throw bad(name, `expected ${key} as a decimal number in (0, 180], got '${echo(v)}'`);
    }
    if (key === 'latitude_delta' && !(DECIMAL_RE.test(v) && n > 0 && n <= 90)) {
      throw bad(name, `expected ${key} as a decimal number in (0, 90], got '${echo(v)}'`);
    }
    got.set(key, n);
  }
  for (const k of ['origin_longitude', 'origin_latitude']) if (!got.has(k)) throw bad(name, `${k} is required`);
  return {
    lon: got.get('origin_longitude')!,
    lat: got.get('origin_latitude')!,
    dlon: got.get('longitude_delta') ?? GEO_DEFAULT_DELTA,
    dlat: got.get('latitude_delta') ?? GEO_DEFAULT_DELTA,
  };
}

/** One parameter's decoded value to its normalised form, driven by the field's kind. */
function parseValue(field: Field, value: string, limits: QueryLimits): KindValue[Field['kind']] {
  const name = field.name;
  switch (field.kind) {
    case 'uuid-list':
      return uniqueSorted(
        items(name, value, limits).map((x) => {
          if (!UUID_RE.test(x)) throw bad(name, `expected UUIDs (8-4-4-4-12 hex digits), got '${echo(x)}'`);
          return x.toLowerCase();
        }),
      );
    case 'string-list':
      return uniqueSorted(items(name, value, limits));
    case 'name-list': {
      const codes = field.codes;
      return uniqueSorted(items(name, value, limits).map((x) => codes[code(name, x, codes)]));
    }
    case 'code-list':
      return uniqueSorted(items(name, value, limits).map((x) => code(name, x, field.codes)));
    case 'word-list':
    case 'any-of': {
      const allowed = field.values;
      return uniqueSorted(
        items(name, value, limits).map((x) => {
          if (allowed !== undefined && !allowed.includes(x)) throw bad(name, `expected items from ${allowed.join(', ')}, got '${echo(x)}'`);
          return x;
        }),
      );
    }
    case 'tags':
      return uniqueSorted(
        items(name, value, limits).map((x) => {
          // Characters are code points, so a tag of 36 emoji is allowed.
          if ([...x].length > field.maxLength) throw bad(name, `each tag must be at most ${field.maxLength} characters, got '${echo(x)}'`);
          return x;
        }),
      );
    case 'code':
      return code(name, value.trim(), field.codes);
    case 'bound':
      return number(name, value.trim(), field.integer, field.min, field.max, field.integer ? 'an integer' : 'a decimal number');
    case 'substring':
      return value; // not trimmed: spaces are part of the substring searched for
    case 'geo':
      return geo(name, value, limits);
  }
}

/**
 * The decoded values of every occurrence of `wanted` (names decoded as parseFilterQuery does), in
 * order; a value with a malformed escape is returned raw. Used to validate `luna_account_id` before
 * any filter parameter, as SPEC's error order requires, even when a filter parameter is bad.
 */
export function paramValues(rawQuery: string, wanted: string): string[] {
  const out: string[] = [];
  for (const segment of rawQuery.split('&')) {
    const eq = segment.indexOf('=');
    if (decode(eq === -1 ? segment : segment.slice(0, eq)) !== wanted) continue;
    const raw = eq === -1 ? '' : segment.slice(eq + 1);
    out.push(decode(raw) ?? raw);
  }
  return out;
}

/**
 * Parses the query string of `GET /{api}/ws` (without the leading `?`) into a normalised filter.
 * Parameters are checked in the order given and the first bad one is reported, as a value (never
 * thrown). `luna_account_id` is returned decoded but not validated: the caller reports account
 * errors before filter errors. Empty segments (`a=1&&b=2`, a trailing `&`) are ignored, as
 * URLSearchParams does; a segment without `=` has an empty value. A value is decoded before it is
 * split into items, so `%2C` separates items too: common clients (Python requests, URLSearchParams)
 * send `sources=a,b` as `sources=a%2Cb`. A list item therefore cannot contain a comma.
 */
export function parseFilterQuery(rawQuery: string, limits: QueryLimits): ParseResult {
  // Map, not an object: `__proto__`, `constructor` are keys like any other.
  const seen = new Map<string, unknown>();
  const session = new Map<SessionParam, string>();
  try {
    for (const segment of rawQuery.split('&')) {
      if (segment === '') continue;
      const eq = segment.indexOf('=');
      const rawName = eq === -1 ? segment : segment.slice(0, eq);
      const rawValue = eq === -1 ? '' : segment.slice(eq + 1);
      const name = decode(rawName);
      if (name === undefined) throw bad(rawName, 'malformed percent-encoding in the name');
      const field = FIELD_BY_NAME.get(name);
      if (field === undefined && !SESSION.has(name)) {
        throw new BadParam(name, `Unknown query parameter '${echo(name)}'`);
      }
      if (seen.has(name)) throw new BadParam(name, `Query parameter '${echo(name)}' is given more than once`);
      const value = decode(rawValue);
      if (value === undefined) throw bad(name, `malformed percent-encoding in '${echo(rawValue)}'`);
      if (value === '') throw new BadParam(name, `Query parameter '${echo(name)}' is empty`);
      if (field === undefined) {
        seen.set(name, value);
        session.set(name as SessionParam, value);
        continue;
      }
      const v = parseValue(field, value, limits);
      if (field.kind === 'bound') {
        const other = seen.get(field.pair);
        if (typeof other === 'number') {
          const [lo, hi, loName, hiName] = field.op === 'gte' ? [v as number, other, name, field.pair] : [other, v as number, field.pair, name];
          if (!(lo < hi)) {
            throw new BadParam(
              name,
              `Bad query parameters '${loName}' and '${hiName}': the lower bound ${lo} is not below the upper bound ${hi}, so nothing could match`,
            );
          }
        }
      }
      seen.set(name, v);
    }
  } catch (err) {
    if (err instanceof BadParam) return { ok: false, param: err.param, detail: err.detail };
    throw err;
  }
  const filter: Record<string, unknown> = {};
  for (const f of FIELDS) if (seen.has(f.name)) filter[f.name] = seen.get(f.name);
  return { ok: true, filter: filter as Filter, accountId: session.get(ACCOUNT_PARAM), session };
}
