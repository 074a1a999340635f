import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FIELDS, compileFilter, decodeFacts, encodeFacts, extractFacts, filterKey, filterTopic, interpretFilter, parseFilterQuery,
  type Facts, type Field, type Filter,
} from '../../src/filters/index.js';
import { EVENT_PATHS } from '../../src/filters/interpret.js';

const LIMITS = { maxListItems: 100 };
const U1 = '0f8fad5b-d9cb-469f-a165-70867728950e';
const U2 = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

function parse(query: string): Filter {
  const r = parseFilterQuery(query, LIMITS);
  if (!r.ok) throw new Error(`${query}: ${r.detail}`);
  return r.filter;
}

/** Both executions, and the compiled one also on facts that went through msgpack. */
function evaluate(filter: Filter, event: unknown, handlerId: string): { compiled: boolean; viaBytes: boolean; interpreted: boolean } {
  const p = compileFilter(filter);
  const facts = extractFacts(event, handlerId);
  return { compiled: p(facts), viaBytes: p(decodeFacts(encodeFacts(facts))), interpreted: interpretFilter(filter, event, handlerId) };
}

/** Facts without its undefined keys (extractFacts and decodeFacts return every key). */
function defined(f: Facts): Facts {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
}

const face = (basic: unknown) => ({ face_attributes: { basic_attributes: basic } });
const faceAttr = (attrs: unknown) => ({ aggregate_estimations: { face: { attributes: attrs } } });
const body = (attrs: unknown) => ({ aggregate_estimations: { body: { attributes: attrs } } });
const geo = (longitude: unknown, latitude: unknown) => ({ location: { geo_position: { longitude, latitude } } });
const matches = (...m: unknown[]) => ({ matches: m });

interface Case {
  query: string;
  event: unknown;
  handlerId?: string;
  expected: boolean;
}

const G = 'geo_position=origin_longitude,179.9,origin_latitude,10,longitude_delta,0.2,latitude_delta,1';
const CASES: Case[] = [
  // empty filter
  { query: '', event: {}, expected: true },
  { query: '', event: null, expected: true },
  // handler_ids
  { query: `handler_ids=${U1},${U2}`, event: {}, handlerId: U2, expected: true },
  { query: `handler_ids=${U1}`, event: {}, handlerId: U1.toUpperCase(), expected: true },
  { query: `handler_ids=${U1.toUpperCase()}`, event: {}, handlerId: U1, expected: true },
  { query: `handler_ids=${U1}`, event: {}, handlerId: U2, expected: false },
  // sources
  { query: 'sources=cam1,cam2', event: { source: 'cam2' }, expected: true },
  { query: 'sources=cam1', event: { source: 'Cam1' }, expected: false },
  { query: 'sources=cam1', event: {}, expected: false },
  { query: 'sources=1', event: { source: 1 }, expected: false },
  { query: 'sources=cam1', event: { source: ['cam1'] }, expected: false },
  // stream_ids
  { query: `stream_ids=${U1}`, event: { stream_id: U1 }, expected: true },
  { query: `stream_ids=${U1}`, event: { stream_id: U2 }, expected: false },
  { query: `stream_ids=${U1}`, event: { stream_id: null }, expected: false },
  // matching_candidates_labels: any of
  { query: 'matching_candidates_labels=vip,staff', event: matches({ label: 'x' }, { label: 'staff' }), expected: true },
  { query: 'matching_candidates_labels=vip', event: matches({ label: 'x' }, { label: 1 }), expected: false },
  { query: 'matching_candidates_labels=vip', event: matches(null, 'vip', ['vip'], { label: 'vip' }), expected: true },
  { query: 'matching_candidates_labels=vip', event: { matches: { label: 'vip' } }, expected: false },
  { query: 'matching_candidates_labels=vip', event: matches(), expected: false },
  // object_similarity: top candidate
  { query: 'object_similarity__gte=0.9', event: matches({ candidates: [{ similarity: 0.5 }] }, { candidates: [{ similarity: 0.9 }] }), expected: true },
  { query: 'object_similarity__gte=0.9', event: matches({ candidates: [{ similarity: 0.8999 }, { similarity: '0.95' }] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: 0.5 }, { similarity: 0.9 }] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: 0.5 }, { similarity: 0.8 }] }), expected: true },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: null }] }, { candidates: 'x' }), expected: false },
  { query: 'object_similarity__gte=0&object_similarity__lt=1', event: matches({ candidates: [{ similarity: 0 }] }), expected: true },
  // age: gte inclusive, lt exclusive
  { query: 'age__gte=30&age__lt=50', event: face({ age: 30 }), expected: true },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 49.9 }), expected: true },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 50 }), expected: false },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 29 }), expected: false },
  { query: 'age__gte=30', event: face({ age: '35' }), expected: false },
  { query: 'age__gte=30', event: face({}), expected: false },
  { query: 'age__lt=30', event: {}, expected: false },
  { query: 'age__lt=30', event: { face_attributes: [] }, expected: false },
  // gender: the number is compared
  { query: 'gender=1', event: face({ gender: 1 }), expected: true },
  { query: 'gender=0', event: face({ gender: 1 }), expected: false },
  { query: 'gender=1', event: face({ gender: '1' }), expected: false },
  { query: 'gender=1', event: face({ gender: true }), expected: false },
  { query: 'gender=0', event: face({ gender: null }), expected: false },
  // ethnic_groups: codes in the query, names in the event
  { query: 'ethnic_groups=2,3', event: face({ ethnicities: { predominant_ethnicity: 'asian' } }), expected: true },
  { query: 'ethnic_groups=2', event: face({ ethnicities: { predominant_ethnicity: 2 } }), expected: false },
  { query: 'ethnic_groups=2', event: face({ ethnicities: { predominant_ethnicity: 'Asian' } }), expected: false },
  // face estimations
  { query: 'liveness=0,2', event: faceAttr({ liveness: { prediction: 'spoof' } }), expected: true },
  { query: 'liveness=0', event: faceAttr({ liveness: { prediction: 0 } }), expected: false },
  { query: 'liveness=1', event: faceAttr({ liveness: { prediction: 'spoof' } }), expected: false },
  { query: 'deepfake=0', event: faceAttr({ deepfake: { prediction: 'fake' } }), expected: true },
  { query: 'deepfake=0', event: faceAttr({ deepfake: {} }), expected: false },
  { query: 'masks=1,3', event: faceAttr({ mask: { predominant_mask: 'occluded' } }), expected: true },
  { query: 'masks=2', event: faceAttr({ mask: { predominant_mask: 'medical_mask' } }), expected: false },
  { query: 'emotions=4', event: faceAttr({ emotions: { predominant_emotion: 'happiness' } }), expected: true },
  { query: 'emotions=4', event: faceAttr({ emotions: { predominant_emotion: { name: 'happiness' } } }), expected: false },
  // tags: all of
  { query: 'tags=a,b', event: { tags: ['c', 'b', 'a'] }, expected: true },
  { query: 'tags=a,b', event: { tags: ['a'] }, expected: false },
  { query: 'tags=a', event: { tags: 'a' }, expected: false },
  { query: 'tags=1', event: { tags: [1] }, expected: false },
  { query: 'tags=a,b,c,d,e,f', event: { tags: ['f', 'e', 'd', 'c', 'b', 'a', 'z'] }, expected: true },
  { query: 'tags=a,b,c,d,e,f', event: { tags: ['f', 'e', 'd', 'c', 'b'] }, expected: false },
  // user_data: substring
  { query: 'user_data=cd', event: { user_data: 'abcd' }, expected: true },
  { query: 'user_data=cd', event: { user_data: 'abCd' }, expected: false },
  { query: 'user_data=1', event: { user_data: 12 }, expected: false },
  { query: 'user_data=a+b', event: { user_data: 'xa by' }, expected: true },
  // geo: box, wrap at ±180
  { query: G, event: geo(179.9, 10), expected: true },
  { query: G, event: geo(-179.9, 10.99), expected: true },
  { query: G, event: geo(-179.85, 10), expected: false },
  { query: G, event: geo(180, 9), expected: true },
  { query: G, event: geo(179.9, 11.5), expected: false },
  { query: G, event: geo('179.9', 10), expected: false },
  { query: G, event: geo(179.9, undefined), expected: false },
  { query: G, event: { location: { geo_position: [179.9, 10] } }, expected: false },
  { query: 'geo_position=origin_longitude,-180,origin_latitude,0,longitude_delta,0.5,latitude_delta,0.5', event: geo(179.75, 0.5), expected: true },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0', event: geo(0.01, -0.01), expected: true },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0', event: geo(0.02, 0), expected: false },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0,longitude_delta,180,latitude_delta,90', event: geo(-180, -90), expected: true },
  // location strings
  { query: 'cities=Moscow&areas=A&districts=D&streets=S&house_numbers=1a', event: { location: { city: 'Moscow', area: 'A', district: 'D', street: 'S', house_number: '1a' } }, expected: true },
  { query: 'cities=Moscow&house_numbers=1', event: { location: { city: 'Moscow', house_number: 1 } }, expected: false },
  // body
  { query: 'apparent_gender=0,2', event: body({ basic_attributes: { apparent_gender: 2 } }), expected: true },
  { query: 'apparent_gender=1', event: body({ basic_attributes: { apparent_gender: 'male' } }), expected: false },
  { query: 'apparent_age__gte=10&apparent_age__lt=20', event: body({ basic_attributes: { apparent_age: 10 } }), expected: true },
  { query: 'apparent_age__gte=10&apparent_age__lt=20', event: body({ basic_attributes: { apparent_age: 20 } }), expected: false },
  { query: 'headwear_states=1', event: body({ upper_body: { headwear: { state: 1 } } }), expected: true },
  { query: 'headwear_states=1', event: body({ upper_body: { headwear: { state: 'present' } } }), expected: false },
  { query: 'headwear_colors=black', event: body({ upper_body: { headwear: { apparent_color: 'black' } } }), expected: true },
  { query: 'sleeve_lengths=short', event: body({ upper_body: { sleeve: { length: 'long' } } }), expected: false },
  { query: 'upper_clothing_colors=red,blue', event: body({ upper_body: { upper_clothing: { colors: ['white', 'blue'] } } }), expected: true },
  { query: 'upper_clothing_colors=red', event: body({ upper_body: { upper_clothing: { colors: ['white'] } } }), expected: false },
  { query: 'upper_clothing_colors=red', event: body({ upper_body: { upper_clothing: { colors: 'red' } } }), expected: false },
  {
    query: 'lower_garment_colors=black,blue,green,gray,orange,purple',
    event: body({ lower_body: { lower_garment: { colors: [null, 'purple'] } } }),
    expected: true,
  },
  { query: 'lower_garment_colors=black,blue,green,gray,orange', event: body({ lower_body: { lower_garment: { colors: [] } } }), expected: false },
  { query: 'lower_garment_types=skirt', event: body({ lower_body: { lower_garment: { type: 'skirt' } } }), expected: true },
  { query: 'shoes_colors=white', event: body({ lower_body: { shoes: { apparent_color: 'white' } } }), expected: true },
  { query: 'backpack_states=0,2', event: body({ accessories: { backpack: { state: 0 } } }), expected: true },
  { query: 'backpack_states=0,2', event: body({ accessories: { backpack: { state: 1 } } }), expected: false },
  // AND of several
  { query: 'gender=1&age__gte=30&sources=c', event: { ...face({ gender: 1, age: 31 }), source: 'c' }, expected: true },
  { query: 'gender=1&age__gte=30&sources=c', event: { ...face({ gender: 1, age: 31 }), source: 'd' }, expected: false },
  // hostile shapes
  { query: 'sources=x', event: JSON.parse('{"__proto__": {"source": "x"}}'), expected: false },
  { query: 'age__gte=0', event: JSON.parse('{"face_attributes": {"__proto__": {"basic_attributes": {"age": 5}}}}'), expected: false },
  { query: 'sources=x', event: 'x', expected: false },
  { query: 'sources=x', event: [{ source: 'x' }], expected: false },
];

test('case table: compiled (on facts and on facts through msgpack) and interpreter agree with the expectation', () => {
  for (const c of CASES) {
    const got = evaluate(parse(c.query), c.event, c.handlerId ?? U1);
    const want = { compiled: c.expected, viaBytes: c.expected, interpreted: c.expected };
    assert.deepEqual(got, want, `${c.query} on ${JSON.stringify(c.event)}`);
  }
});

test('every parameter of the vocabulary is covered by the case table', () => {
  const covered = new Set(CASES.flatMap((c) => Object.keys(parse(c.query))));
  for (const f of FIELDS) assert.ok(covered.has(f.name), f.name);
});

test('facts: extraction keeps raw types, drops objects, and round-trips through msgpack', () => {
  const event = {
    source: 's', stream_id: U1, user_data: 7, tags: ['a', 1, null, 'b'],
    ...face({ age: '30', gender: 1, ethnicities: { predominant_ethnicity: { x: 1 } } }),
    matches: [{ label: 'l', candidates: [{ similarity: 0.2 }, { similarity: 0.7 }] }, { label: 2, candidates: [{ similarity: '0.99' }] }],
    location: { city: 'c', geo_position: { longitude: 1.5, latitude: -2 } },
    aggregate_estimations: {
      face: { attributes: { liveness: { prediction: 0 }, mask: { predominant_mask: 'missing' } } },
      body: { attributes: { upper_body: { upper_clothing: { colors: ['red', 3] } }, accessories: { backpack: { state: 2 } } } },
    },
  };
  const facts = extractFacts(event, U2);
  const want: Facts = {
    handler_id: U2, source: 's', stream_id: U1, labels: ['l'], similarity: 0.7, age: '30', gender: 1, liveness: 0,
    mask: 'missing', tags: ['a', 'b'], user_data: 7, lon: 1.5, lat: -2, city: 'c', upper_colors: ['red'], backpack_state: 2,
  };
  assert.deepEqual(defined(facts), want);
  assert.deepEqual(Object.keys(facts), Object.keys(extractFacts({}, U1)), 'one shape for all events');
  assert.deepEqual(decodeFacts(encodeFacts(facts)), facts);
  assert.deepEqual(Object.keys(decodeFacts(encodeFacts(facts))), Object.keys(facts));
  assert.deepEqual(defined(decodeFacts(encodeFacts({}))), {});
  assert.deepEqual(defined(decodeFacts(encodeFacts(want))), want);
  assert.deepEqual(defined(extractFacts(null, U1)), { handler_id: U1 });
  assert.deepEqual(defined(extractFacts({ matches: [] }, U1)), { handler_id: U1, labels: [] });
  assert.equal(encodeFacts(extractFacts({}, U1)).length, 1 + 1 + 'handler_id'.length + 2 + U1.length, 'absent fields cost no bytes');
  assert.ok(encodeFacts(facts).length < 300, `${encodeFacts(facts).length} bytes`);
});

test('facts: decodeFacts throws on bytes that are not one msgpack map', () => {
  const garbage = [[], [0x01], [0xc1], [0x81], [0x81, 0xa1, 0x61], [0x80, 0x01], [0x91, 0x01], [0xa1, 0x61], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xc0]];
  for (const g of garbage) assert.throws(() => decodeFacts(Uint8Array.from(g)), `${g}`);
  const rand = mulberry32(7);
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
    try {
      const f = decodeFacts(bytes);
      // If it decoded, predicates must still not throw on whatever came out.
      compileFilter(parse('gender=1&tags=a&upper_clothing_colors=red&geo_position=origin_longitude,0,origin_latitude,0'))(f);
    } catch (err) {
      assert.ok(err instanceof Error);
    }
  }
});

test('filter keys: equal filters in any order give equal keys, different filters different keys', () => {
  const k = (q: string) => filterKey(parse(q));
  assert.equal(k('gender=1&age__gte=30&sources=b,a,a'), k('sources=a,b&age__gte=30&gender=1'));
  assert.equal(k(`handler_ids=${U1.toUpperCase()},${U2}`), k(`handler_ids=${U2},${U1}`));
  assert.equal(k('ethnic_groups=2,1'), k('ethnic_groups=1,2,2'));
  assert.equal(k('object_similarity__gte=0.50'), k('object_similarity__gte=0.5'));
  assert.equal(
    k('geo_position=origin_latitude,1,origin_longitude,2'),
    k('geo_position=origin_longitude,2.0,origin_latitude,1,latitude_delta,0.01'),
  );
  const distinct = ['', 'gender=1', 'gender=0', 'sources=a', 'cities=a', 'sources=a,b', 'age__gte=1', 'age__lt=1', 'tags=a', 'user_data=a'];
  assert.equal(new Set(distinct.map(k)).size, distinct.length);
  assert.equal(filterKey({ sources: ['b', 'a'] }), filterKey({ sources: ['a', 'b', 'a'] }), 'hand-built filters key right too');
  const t = filterTopic(U1, k('gender=1'));
  assert.equal(t, filterTopic(U1, k('gender=1')));
  assert.notEqual(t, filterTopic(U2, k('gender=1')));
  assert.notEqual(t, filterTopic(U1, k('gender=0')));
  assert.ok(t.length <= U1.length + 1 + 27, t);
});

test('query text cannot change the generated code: quotes, backslashes, </script>, ${} only match themselves', () => {
  const nasty = ['"', "'", '\\', '\\"', '`', '${1}', '</script>', '"); return true; ("', "'+(()=>true)()+'", 'a\u2028b', 'a\u2029b', '*/', '/*', '\\u0041'];
  for (const s of nasty) {
    for (const param of ['sources', 'user_data', 'tags', 'matching_candidates_labels']) {
      const padded = param === 'user_data' ? s : [s, 'p1', 'p2', 'p3', 'p4'].join(','); // 5 items: the Set path
      for (const value of [s, padded]) {
        if (param === 'user_data' && value !== s) continue;
        const f = parse(`${param}=${encodeURIComponent(value)}`);
        const p = compileFilter(f);
        const ev = (x: unknown) =>
          param === 'sources' ? { source: x }
          : param === 'user_data' ? { user_data: x }
          : param === 'tags' ? { tags: [x, 'p1', 'p2', 'p3', 'p4'] } // all of the given tags
          : matches({ label: x });
        assert.equal(p(extractFacts(ev(s), U1)), true, `${param}=${JSON.stringify(value)} matches its literal`);
        assert.equal(p(extractFacts(ev('A'), U1)), false, `${param}=${JSON.stringify(value)} matches nothing else`);
        assert.equal(p(extractFacts({}, U1)), false);
      }
    }
  }
});

// ------------------------------------------------------------------------------------------------
// Property test: random filters against random events; compiled and interpreter always agree.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(0x5eed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const some = <T>(xs: readonly T[], max = 3): T[] => Array.from({ length: 1 + Math.floor(rand() * max) }, () => pick(xs));

const WORDS = ['a', 'b', 'c', 'A', 'x y', 'cam1'];
const GEO_LON = [-180, -179.99, -179.5, 0, 0.005, 10, 179.5, 179.99, 180];
const GEO_LAT = [-90, -89.99, 0, 0.01, 10, 45, 89.995, 90];

/** A valid query value for the field (ranges may come out inverted; those queries are skipped). */
function queryValue(field: Field): string {
  switch (field.kind) {
    case 'uuid-list':
      return some([U1, U2, U1.toUpperCase()]).join(',');
    case 'string-list':
    case 'substring':
      return field.kind === 'substring' ? pick(['a', 'x y', 'b c', 'cam']) : some(WORDS).join(',');
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

const STRINGS = [
  ...WORDS, U1, U2, U1.toUpperCase(), 'xa by', 'b cx', 'spoof', 'real', 'unknown', 'fake', 'asian', 'indian', 'occluded', 'missing',
  'happiness', 'anger', 'short', 'long', 'trousers', 'skirt', 'undefined', 'black', 'red', 'white', 'other', 'khaki', '', '0', '1',
];
const NUMBERS = [0, 1, 2, 3, 4, -1, 29, 29.5, 30, 31, 50, 99, 100, 101, 200, 0.25, 0.2499, 0.5, 0.75, 0.9, 1.5, ...GEO_LON, ...GEO_LAT, 10.5, 0.5049];
const WRONG: unknown[] = [null, true, false, {}, { a: 1 }, [], ['a'], [1]];

function scalarValue(): unknown {
  const r = rand();
  return r < 0.45 ? pick(NUMBERS) : r < 0.9 ? pick(STRINGS) : pick(WRONG);
}
function arrayValue(): unknown {
  if (rand() < 0.15) return scalarValue();
  return Array.from({ length: Math.floor(rand() * 4) }, () => (rand() < 0.85 ? pick(STRINGS) : pick([...WRONG, 1, 0])));
}

/** The event paths filters test, from the oracle's table and the vocabulary: a new filter is
 * fuzzed without editing this test. Kinds that test an array get array values. */
const ARRAY_KINDS: ReadonlySet<string> = new Set(['any-of', 'tags']);
function fuzzPaths(array: boolean): (readonly string[])[] {
  const keys = (FIELDS as readonly Field[]).flatMap((f) => (ARRAY_KINDS.has(f.kind) !== array ? [] : f.kind === 'geo' ? [f.fact, f.latFact] : [f.fact]));
  return [...new Set(keys)].flatMap((k) => (Object.hasOwn(EVENT_PATHS, k) ? [EVENT_PATHS[k as keyof typeof EVENT_PATHS]] : []));
}
const SCALAR_PATHS = fuzzPaths(false);
const ARRAY_PATHS = fuzzPaths(true);

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
        m.candidates = rand() < 0.1 ? pick(WRONG) : Array.from({ length: Math.floor(rand() * 3) }, () => (rand() < 0.9 ? { similarity: scalarValue() } : pick(WRONG)));
      }
      return m;
    });
  }
  return e; // JSON-shaped already: only plain objects, arrays and JSON scalars

}

test('seeded random filters and events: compiled(extractFacts) always equals the interpreter', () => {
  let filters = 0;
  let matched = 0;
  let evaluated = 0;
  while (filters < 2000) {
    const q = randomQuery();
    const r = parseFilterQuery(q, LIMITS);
    if (!r.ok) {
      assert.match(r.detail, /not below/, `${q}: generated queries are valid except for inverted ranges`);
      continue;
    }
    filters++;
    const p = compileFilter(r.filter);
    for (let j = 0; j < 20; j++) {
      const ev = randomEvent();
      const hid = pick([U1, U2, U1.toUpperCase()]);
      const facts = extractFacts(ev, hid);
      const want = interpretFilter(r.filter, ev, hid);
      // Messages built only on failure: stringifying every event would dominate the test's time.
      if (p(facts) !== want) assert.fail(`${q} on ${JSON.stringify(ev)} (handler ${hid}): interpreter says ${want}`);
      if (j < 3 && p(decodeFacts(encodeFacts(facts))) !== want) assert.fail(`${q} via msgpack on ${JSON.stringify(ev)}`);
      if (want) matched++;
      evaluated++;
    }
  }
  // The generator must exercise both outcomes, or agreement proves little.
  assert.ok(matched > evaluated * 0.05 && matched < evaluated * 0.95, `${matched} of ${evaluated} matched`);
});
