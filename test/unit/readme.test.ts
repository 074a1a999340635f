import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FILTER_EXAMPLES, README, withTables } from '../../scripts/gen-docs.js';
import { FIELDS } from '../../src/filters/fields.js';
import { parseFilterQuery } from '../../src/filters/index.js';

test('the README configuration and filter tables are generated from the schema and vocabulary (run `npm run docs:readme`)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, withTables(readme), 'README tables are stale: run `npm run docs:readme`');
});

test('every filter has a README example, and each example is a valid query for that filter', () => {
  for (const f of FIELDS) {
    const q = FILTER_EXAMPLES[f.name];
    assert.ok(q, `no example for ${f.name}`);
    const parsed = parseFilterQuery(q, { maxListItems: 100 });
    assert.ok(parsed.ok, `${q}: ${parsed.ok ? '' : parsed.detail}`);
    assert.ok(f.name in parsed.filter, `${q} does not set ${f.name}`);
  }
});
