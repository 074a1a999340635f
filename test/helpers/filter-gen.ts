import { FACT_PATHS, type FactKey, type Facts, FIELDS, type Field } from '../../src/filters/index.js';
import { U1, U2 } from './filters.js';
import { chooser, prng } from './prng.js';

/**
 * Seeded generators for the filter property tests: valid random queries over the whole vocabulary,
 * random JSON-shaped events that hit every path the vocabulary reads (with wrong types on the way),
 * and hostile Facts of any shape (what decodeFacts may hand a predicate: it checks no value types).
 */
export interface FilterGen {
  rand: () => number;
  pick: <T>(xs: readonly T[]) => T;
  randomQuery(): string;
  randomEvent(): unknown;
  randomFacts(): Facts;
}

const WORDS = ['a', 'b', 'c', 'A', 'x y', 'cam1'];
const GEO_LON = [-180, -179.99, -179.5, 0, 0.005, 10, 179.5, 179.99, 180];
const GEO_LAT = [-90, -89.99, 0, 0.01, 10, 45, 89.995, 90];
const STRINGS = [
  ...WORDS,
  U1,
  U2,
  U1.toUpperCase(),
  'xa by',
  'b cx',
  'spoof',
  'real',
  'unknown',
  'fake',
  'asian',
  'indian',
  'occluded',
  'missing',
  'happiness',
  'anger',
  'short',
  'long',
  'trousers',
  'skirt',
  'undefined',
  'black',
  'red',
  'white',
  'other',
  'khaki',
  '',
  '0',
  '1',
];
const NUMBERS = [0, 1, 2, 3, 4, -1, 29, 29.5, 30, 31, 50, 99, 100, 101, 200, 0.25, 0.2499, 0.5, 0.75, 0.9, 1.5, ...GEO_LON, ...GEO_LAT, 10.5, 0.5049];
const WRONG: unknown[] = [null, true, false, {}, { a: 1 }, [], ['a'], [1]];
/** Values no well-formed Facts slot holds, but msgpack can carry. */
const HOSTILE: unknown[] = [
  ...WRONG,
  NaN,
  Infinity,
  -0,
  2 ** 53 + 2,
  '\u0000',
  'x'.repeat(300),
  { length: 3 },
  { includes: 1, has: 1, toLowerCase: 1 },
  [null, {}, [], 1, 'a'],
  [[['a']]],
  Uint8Array.from([1, 2]),
  { __proto__: null, a: 1 },
  { 0: 'a', length: 1 },
];

/** The event paths filters test, from the oracle's table and the vocabulary: a new filter is
 * fuzzed without editing this file. Kinds that test an array get array values. */
const ARRAY_KINDS: ReadonlySet<string> = new Set(['any-of', 'tags']);
function fuzzPaths(array: boolean): (readonly string[])[] {
  const keys = (FIELDS as readonly Field[]).flatMap((f) => (ARRAY_KINDS.has(f.kind) !== array ? [] : f.kind === 'geo' ? [f.fact, f.latFact] : [f.fact]));
  return [...new Set(keys)].flatMap((k) => (Object.hasOwn(FACT_PATHS, k) ? [FACT_PATHS[k as keyof typeof FACT_PATHS].path] : []));
}
const SCALAR_PATHS = fuzzPaths(false);
const ARRAY_PATHS = fuzzPaths(true);
const FACT_KEYS: readonly FactKey[] = [...new Set((FIELDS as readonly Field[]).flatMap((f) => (f.kind === 'geo' ? [f.fact, f.latFact] : [f.fact])))];

export function filterGen(seed: number): FilterGen {
  const rand = prng(seed);
  const { pick, some } = chooser(rand);

  /** A valid query value for the field (ranges may come out inverted; the caller skips those). */
  function queryValue(field: Field): string {
    switch (field.kind) {
      case 'uuid-list':
        return some([U1, U2, U1.toUpperCase()]).join(',');
      case 'string-list':
        return some(WORDS).join(',');
      case 'substring':
        return pick(['a', 'x y', 'b c', 'cam']);
      case 'tags':
        return some(['a', 'b', 'c'], 4).join(',');
      case 'name-list':
      case 'code-list':
        return some(Object.keys(field.codes)).join(',');
      case 'code':
        return pick(Object.keys(field.codes));
      case 'word-list':
        return some(field.values).join(',');
      case 'any-of':
        return some(field.values ?? WORDS, 6).join(',');
      case 'bound':
        return field.integer
          ? String(pick([field.min, field.min + 1, 29, 30, 31, 50, field.max - 1, field.max]))
          : pick(['0', '0.25', '0.5', '0.75', '0.9', '1']);
      case 'geo': {
        const pairs = [`origin_longitude,${pick(GEO_LON)}`, `origin_latitude,${pick(GEO_LAT)}`];
        if (rand() < 0.6) pairs.push(`longitude_delta,${pick(['0.01', '0.5', '1', '180'])}`);
        if (rand() < 0.6) pairs.push(`latitude_delta,${pick(['0.01', '0.5', '1', '90'])}`);
        return pairs.sort(() => rand() - 0.5).join(',');
      }
    }
  }

  /** 0 to 3 distinct parameters: more conditions would almost never match a random event. */
  function randomQuery(): string {
    const fields = new Set<Field>();
    const n = Math.floor(rand() * 4);
    while (fields.size < n) fields.add(pick(FIELDS as readonly Field[]));
    return [...fields].map((field) => `${field.name}=${encodeURIComponent(queryValue(field))}`).join('&');
  }

  function scalarValue(): unknown {
    const r = rand();
    return r < 0.45 ? pick(NUMBERS) : r < 0.9 ? pick(STRINGS) : pick(WRONG);
  }
  function arrayValue(): unknown {
    if (rand() < 0.15) return scalarValue();
    return Array.from({ length: Math.floor(rand() * 4) }, () => (rand() < 0.85 ? pick(STRINGS) : pick([...WRONG, 1, 0])));
  }

  function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
    let cur = root;
    for (const k of path.slice(0, -1)) {
      const next = cur[k];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        if (next !== undefined) return; // a broken container stays broken
        // Now and then a container on the way is of the wrong type.
        if (rand() < 0.03) {
          cur[k] = pick(['x', 1, [], null]);
          return;
        }
        cur[k] = {};
      }
      cur = cur[k] as Record<string, unknown>;
    }
    cur[path[path.length - 1]] = value;
  }

  /** JSON-shaped: only plain objects, arrays and JSON scalars. */
  function randomEvent(): unknown {
    if (rand() < 0.01) return pick([null, 'x', 1, []]);
    const e: Record<string, unknown> = {};
    for (const p of SCALAR_PATHS) if (rand() < 0.8) setPath(e, p, scalarValue());
    for (const p of ARRAY_PATHS) if (rand() < 0.8) setPath(e, p, arrayValue());
    if (rand() < 0.7) {
      e.matches = Array.from({ length: Math.floor(rand() * 3) }, () => {
        if (rand() < 0.1) return pick(WRONG);
        const m: Record<string, unknown> = {};
        if (rand() < 0.8) m.label = rand() < 0.9 ? pick(STRINGS) : pick(WRONG);
        if (rand() < 0.8) {
          m.candidates =
            rand() < 0.1 ? pick(WRONG) : Array.from({ length: Math.floor(rand() * 3) }, () => (rand() < 0.9 ? { similarity: scalarValue() } : pick(WRONG)));
        }
        return m;
      });
    }
    return e;
  }

  /** Every fact key present (most of the time) with a value of any type, well-typed or not. */
  function randomFacts(): Facts {
    const f: Record<string, unknown> = {};
    for (const k of FACT_KEYS) {
      const r = rand();
      if (r < 0.1) continue;
      f[k] = r < 0.4 ? pick(HOSTILE) : r < 0.6 ? arrayValue() : r < 0.8 ? scalarValue() : pick(STRINGS);
    }
    return f as Facts;
  }

  return { rand, pick, randomQuery, randomEvent, randomFacts };
}
