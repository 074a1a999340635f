import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, type Ended, nextStep, subscriptionUrl } from '../../src/client/luna-client.js';

const ACCOUNT = '8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';

test('subscriptionUrl: path under the base, filters as object or string, the client owns account, positions and resume', () => {
  const u = new URL(subscriptionUrl({ url: 'wss://h.example/luna/', account: ACCOUNT, filters: { gender: 1, sources: ['cam1', 'cam 2'] } }, 'e:1-0'));
  assert.equal(u.pathname, '/luna/2/ws');
  assert.deepEqual(
    [...u.searchParams],
    [
      ['gender', '1'],
      ['sources', 'cam1,cam 2'],
      ['luna_account_id', ACCOUNT],
      ['positions', '1'],
      ['resume', 'e:1-0'],
    ],
  );
  const s = new URL(subscriptionUrl({ url: 'ws://127.0.0.1:5080', api: 1, account: ACCOUNT, filters: '?gender=1&age__gte=30' }));
  assert.equal(s.pathname, '/1/ws');
  assert.equal(s.searchParams.get('age__gte'), '30');
  assert.equal(s.searchParams.has('resume'), false);
  for (const k of ['resume', 'positions', 'luna_account_id']) {
    assert.throws(() => subscriptionUrl({ url: 'ws://h', account: ACCOUNT, filters: `${k}=1` }), new RegExp(k));
  }
});

test('backoffDelay: exponential, capped, jitter within [d/2, d]', () => {
  const b = { initialMs: 100, maxMs: 1000, factor: 2, jitter: false };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, b)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(
    backoffDelay(3, { ...b, jitter: true }, () => 0),
    200,
  );
  assert.equal(
    backoffDelay(3, { ...b, jitter: true }, () => 1),
    400,
  );
});

const ended = (e: Partial<Ended>): Ended => ({ opened: false, code: 1006, reason: '', refusalsVisible: true, ...e });

test('nextStep: the reconnect policy table', () => {
  const cases: [Parameters<typeof nextStep>, ReturnType<typeof nextStep>['step'], string?][] = [
    [['subscribe', ended({ opened: true }), true], 'retry'],
    [['subscribe', ended({ opened: true, code: 4010 }), true], 'gap', 'history-lost'],
    [['subscribe', ended({ opened: true }), false], 'gap', 'no-position'],
    [['subscribe', ended({ refusal: { status: 410, detail: 'Cannot resume: epoch changed' } }), true], 'gap', 'refused'],
    [['subscribe', ended({ refusal: { status: 400, detail: "Bad query parameter 'resume': ..." } }), true], 'gap', 'refused'],
    [['subscribe', ended({ refusal: { status: 400, detail: "Bad query parameter 'gender'" } }), true], 'fail'],
    [['subscribe', ended({ refusal: { status: 403, detail: 'no account' } }), false], 'fail'],
    [['subscribe', ended({ refusal: { status: 503, detail: 'Too many connections' } }), true], 'retry'],
    [['subscribe', ended({ refusal: { status: 429, detail: '' } }), true], 'retry'],
    [['subscribe', ended({}), true], 'retry'],
    // Browsers: a failed resume may be a refusal; probe with a fresh connection, then confirm.
    [['subscribe', ended({ refusalsVisible: false }), true], 'dial', 'probe'],
    [['subscribe', ended({ refusalsVisible: false }), false], 'retry'],
    [['probe', ended({ refusalsVisible: false }), true], 'retry'],
    [['probe', ended({ opened: true, refusalsVisible: false }), true], 'dial', 'confirm'],
    [['confirm', ended({ refusalsVisible: false }), true], 'gap', 'refused'],
  ];
  for (const [args, step, what] of cases) {
    const n = nextStep(...args);
    assert.equal(n.step, step, JSON.stringify(args));
    if (n.step === 'gap') assert.equal(n.reason, what);
    if (n.step === 'dial') assert.equal(n.purpose, what);
  }
});
