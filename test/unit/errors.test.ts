import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CloseCodes, Errors, LunaError } from '../../src/errors.js';
import { README } from '../../scripts/gen-docs.js';

test('every error code and status of the table is in the README error table', () => {
  const readme = readFileSync(README, 'utf8');
  for (const [name, e] of Object.entries(Errors)) {
    const row = new RegExp(`^\\| ${e.code} \\| ${e.status} \\| ${e.desc.replace(/[/()]/g, '\\$&')} \\|`, 'm');
    assert.match(readme, row, `README lacks a row for ${name} (${e.code}/${e.status})`);
  }
});

test('no two entries share code and status', () => {
  const seen = new Set<string>();
  for (const e of Object.values(Errors)) {
    const k = `${e.code}/${e.status}`;
    assert.ok(!seen.has(k), `duplicate ${k}`);
    seen.add(k);
  }
});

test('every close code is in the README', () => {
  const readme = readFileSync(README, 'utf8');
  for (const c of Object.values(CloseCodes)) assert.match(readme, new RegExp(`\\| ${c.code} \\| \`${c.reason}\``));
});

test('error body has exactly error_code, desc, detail', () => {
  const body = JSON.parse(new LunaError(Errors.NotFound, 'x').body());
  assert.deepEqual(Object.keys(body), ['error_code', 'desc', 'detail']);
  assert.deepEqual(body, { error_code: 12013, desc: 'Resource not found', detail: 'x' });
});
