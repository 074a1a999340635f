import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, decodeFacts, encodeFacts, extractFacts, type Facts, FIELDS, type Predicate, parseFilterQuery } from '../../src/filters/index.js';
import { filterGen } from '../helpers/filter-gen.js';
import { LIMITS, parse, U1, U2 } from '../helpers/filters.js';
import { prng } from '../helpers/prng.js';

/** Facts: extraction, the msgpack form, and what predicates do with facts of any shape. */

/** Facts without its undefined keys (extractFacts and decodeFacts return every key). */
function defined(f: Facts): Facts {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
}

const face = (basic: unknown) => ({ face_attributes: { basic_attributes: basic } });

test('facts: extraction keeps raw types, drops objects, and round-trips through msgpack', () => {
  const event = {
    source: 's',
    stream_id: U1,
    user_data: 7,
    tags: ['a', 1, null, 'b'],
    ...face({ age: '30', gender: 1, ethnicities: { predominant_ethnicity: { x: 1 } } }),
    matches: [
      { label: 'l', candidates: [{ similarity: 0.2 }, { similarity: 0.7 }] },
      { label: 2, candidates: [{ similarity: '0.99' }] },
    ],
    location: { city: 'c', geo_position: { longitude: 1.5, latitude: -2 } },
    aggregate_estimations: {
      face: { attributes: { liveness: { prediction: 0 }, mask: { predominant_mask: 'missing' } } },
      body: { attributes: { upper_body: { upper_clothing: { colors: ['red', 3] } }, accessories: { backpack: { state: 2 } } } },
    },
  };
  const facts = extractFacts(event, U2);
  const want: Facts = {
    handler_id: U2,
    source: 's',
    stream_id: U1,
    labels: ['l'],
    similarity: 0.7,
    age: '30',
    gender: 1,
    liveness: 0,
    mask: 'missing',
    tags: ['a', 'b'],
    user_data: 7,
    lon: 1.5,
    lat: -2,
    city: 'c',
    upper_colors: ['red'],
    backpack_state: 2,
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

/** Calls the predicate; a throw fails the test with the filter and facts (the message is built only then). */
function mustNotThrow(p: Predicate, facts: Facts, what: () => string): void {
  try {
    p(facts);
  } catch (err) {
    assert.fail(`predicate threw on ${what()}: ${(err as Error).stack}`);
  }
}

test('facts: decodeFacts throws on bytes that are not one msgpack map; predicates do not throw on what it decodes', () => {
  const garbage = [[], [0x01], [0xc1], [0x81], [0x81, 0xa1, 0x61], [0x80, 0x01], [0x91, 0x01], [0xa1, 0x61], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xc0]];
  for (const g of garbage) assert.throws(() => decodeFacts(Uint8Array.from(g)), `${g}`);
  const p = compileFilter(parse('gender=1&tags=a&upper_clothing_colors=red&geo_position=origin_longitude,0,origin_latitude,0'));
  const rand = prng(7);
  let decoded = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
    let f: Facts;
    try {
      f = decodeFacts(bytes);
    } catch (err) {
      assert.ok(err instanceof Error);
      continue;
    }
    decoded++;
    // Outside the try: a predicate that throws fails here instead of counting as refused bytes.
    mustNotThrow(p, f, () => `bytes ${Buffer.from(bytes).toString('hex')}`);
  }
  assert.ok(decoded > 0, 'no random bytes decoded: the predicate was never called');
});

test('predicates never throw: every parameter, on hostile facts of any shape, directly and through msgpack', () => {
  const gen = filterGen(0xfac7);
  // Random valid queries until every parameter appeared in one, so each emitted check runs.
  const queries: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 100000 && (seen.size < FIELDS.length || queries.length < 300); i++) {
    const q = gen.randomQuery();
    const r = parseFilterQuery(q, LIMITS);
    if (!r.ok) continue;
    queries.push(q);
    for (const name of Object.keys(r.filter)) seen.add(name);
  }
  assert.equal(seen.size, FIELDS.length, 'some parameter never appeared in a generated filter');
  const predicates = queries.map((q) => ({ q, p: compileFilter(parse(q)) }));
  let viaBytes = 0;
  for (let i = 0; i < 300; i++) {
    const facts = gen.randomFacts();
    let decoded: Facts | undefined;
    try {
      decoded = decodeFacts(encodeFacts(facts));
      viaBytes++;
    } catch {
      // A value msgpack cannot carry: the direct call below must still hold.
    }
    for (const { q, p } of predicates) {
      mustNotThrow(p, facts, () => `${q} with facts ${String(JSON.stringify(facts))}`);
      if (decoded !== undefined) mustNotThrow(p, decoded, () => `${q} with decoded facts ${String(JSON.stringify(decoded))}`);
    }
  }
  assert.ok(viaBytes > 250, `only ${viaBytes} of 300 hostile facts survived msgpack`);
});
