import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, decodeFacts, encodeFacts, extractFacts, interpretFilter, parseFilterQuery } from '../../src/filters/index.js';
import { filterGen } from '../helpers/filter-gen.js';
import { LIMITS, U1, U2 } from '../helpers/filters.js';

// Property test: random filters against random events; compiled and interpreter always agree.

test('seeded random filters and events: compiled(extractFacts) always equals the interpreter', () => {
  const { randomQuery, randomEvent, pick } = filterGen(0x5eed);
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
