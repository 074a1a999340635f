import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LunaError } from '../../src/errors.js';
import { validateHandshake } from '../../src/ws/handshake.js';

const A = '8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';
const B = '904e635f-3a47-4832-b4d6-d2d72ba78451';
const limits = { maxQueryBytes: 8192, maxListItems: 100 };
const run = (query: string, accountHeader?: string) => validateHandshake({ query, accountHeader, requestIdHeader: undefined }, limits);

test('the account comes from the header, else from luna_account_id (also percent-encoded)', () => {
  assert.equal((run('gender=1', A) as { account: string }).account, A);
  assert.equal((run(`luna_account_id=${B}`) as { account: string }).account, B);
  assert.equal((run(`luna%5Faccount%5Fid=${B}`) as { account: string }).account, B);
  assert.equal((run(`luna_account_id=${B}`, A) as { account: string }).account, A);
  assert.equal((run('', A.toUpperCase()) as { account: string }).account, A);
});

test('account errors come before filter errors, wherever the filter error stands', () => {
  const e1 = run('gendr=1&luna_account_id=bad') as LunaError;
  assert.equal(e1.status, 400);
  assert.match(e1.detail, /luna_account_id/);
  const e2 = run('gendr=1') as LunaError;
  assert.equal(e2.status, 403);
  const e3 = run(`gendr=1&luna_account_id=${B}`) as LunaError;
  assert.equal(e3.status, 400);
  assert.match(e3.detail, /gendr/);
  const e4 = run(`luna_account_id=${B}&luna_account_id=${B}`) as LunaError;
  assert.match(e4.detail, /more than once/);
});
