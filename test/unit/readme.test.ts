import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README, withTables } from '../../scripts/gen-docs.js';
import { FIELDS } from '../../src/filters/fields.js';
import { parseFilterQuery } from '../../src/filters/index.js';

test('the README tables (configuration, filters, errors, close codes) are generated from their sources (run `npm run docs:readme`)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, withTables(readme), 'README tables are stale: run `npm run docs:readme`');
});

test("every filter's example (README, OpenAPI) is a valid query for that filter", () => {
  for (const f of FIELDS) {
    const q = `${f.name}=${f.example}`;
    const parsed = parseFilterQuery(q, { maxListItems: 100 });
    assert.ok(parsed.ok, `${q}: ${parsed.ok ? '' : parsed.detail}`);
    assert.ok(f.name in parsed.filter, `${q} does not set ${f.name}`);
  }
});
