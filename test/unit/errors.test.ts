import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { README } from '../../scripts/gen-docs.js';
import { CLOSE_CODE_TABLE, Errors, LunaError } from '../../src/errors.js';

/** The rows of one generated README table (between its markers), as trimmed cells. */
function readmeRows(block: string): string[][] {
  const readme = readFileSync(README, 'utf8');
  const a = readme.indexOf(`<!-- ${block}:start`);
  const b = readme.indexOf(`<!-- ${block}:end -->`);
  assert.ok(a !== -1 && b > a, `README lacks the ${block} markers`);
  return readme
    .slice(a, b)
    .split('\n')
    .filter((line) => /^\| *[0-9]/.test(line))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

const errorKey = (code: unknown, status: unknown) => `${code}/${status}`;

test('every entry of the error table is a row of the README error table, with its desc and when', () => {
  const rows = new Map(readmeRows('errors').map(([code, status, desc, when]) => [errorKey(code, status), { desc, when }]));
  for (const [name, e] of Object.entries(Errors)) {
    const row = rows.get(errorKey(e.code, e.status));
    assert.ok(row, `README lacks a row for ${name} (${e.code}/${e.status}): run \`npm run docs:readme\``);
    assert.deepEqual(row, { desc: e.desc, when: e.when }, name);
  }
});

test('every row of the README error table is an entry of the error table', () => {
  const known = new Set(Object.values(Errors).map((e) => errorKey(e.code, e.status)));
  const rows = readmeRows('errors');
  assert.ok(rows.length > 0);
  for (const [code, status] of rows) assert.ok(known.has(errorKey(code, status)), `README lists ${code}/${status}, which src/errors.ts lacks`);
});

test('no two entries share code and status', () => {
  const seen = new Set<string>();
  for (const e of Object.values(Errors)) {
    const k = errorKey(e.code, e.status);
    assert.ok(!seen.has(k), `duplicate ${k}`);
    seen.add(k);
  }
});

test('the close-code table has every code a client can see, and the README lists exactly those', () => {
  assert.deepEqual(
    CLOSE_CODE_TABLE.map((c) => c.code),
    [1001, 1006, 4001, 4008, 4010],
  );
  const rows = readmeRows('close-codes');
  assert.deepEqual(
    rows.map(([code]) => Number(code)),
    CLOSE_CODE_TABLE.map((c) => c.code),
    'README close codes differ from src/errors.ts',
  );
  for (const [i, c] of CLOSE_CODE_TABLE.entries()) {
    assert.equal(rows[i][1], c.reason === '' ? '(none)' : `\`${c.reason}\``, `${c.code}`);
    assert.equal(rows[i][2], c.when, `${c.code}`);
  }
});

test('error body has exactly error_code, desc, detail', () => {
  const body = JSON.parse(new LunaError(Errors.NotFound, 'x').body());
  assert.deepEqual(Object.keys(body), ['error_code', 'desc', 'detail']);
  assert.deepEqual(body, { error_code: 12013, desc: 'Resource not found', detail: 'x' });
});
