import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { carriedToken, ExpiryWheel, loadKeys, MAX_TOKEN_BYTES, Verifier, withoutAccessToken } from '../../src/auth/index.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { LunaError } from '../../src/errors.js';
import { allOf, compileFilter, extractFacts, filterKey, interpretFilter, parseFilterQuery } from '../../src/filters/index.js';
import { filterGen } from '../helpers/filter-gen.js';
import { LIMITS, U1 } from '../helpers/filters.js';
import { ACCOUNT } from '../helpers/http.js';
import { makeKeys, sign, type TestKeys } from '../helpers/tokens.js';

let keys: TestKeys;
before(() => {
  keys = makeKeys();
});
after(() => keys.remove());

describe('ExpiryWheel', () => {
  test('an item is due at its second (rounded up), never before, and a removed item never', () => {
    const t0 = 1_000_000_000_000;
    const w = new ExpiryWheel<string>(t0);
    const a = w.add('a', t0 + 1500);
    w.add('b', t0 + 2000);
    const c = w.add('c', t0 + 2500);
    w.remove('c', c);
    const due: string[] = [];
    w.sweep(t0 + 1999, (x) => due.push(x));
    assert.equal(due.length, 0);
    w.sweep(t0 + 2000, (x) => due.push(x));
    assert.deepEqual(due.sort(), ['a', 'b']);
    w.sweep(t0 + 10_000, (x) => due.push(x));
    assert.deepEqual(due.sort(), ['a', 'b']);
    assert.equal(w.size, 0);
    w.remove('a', a); // after it was taken: nothing happens
    // An item added already due is taken by the next sweep (a second later).
    w.add('late', t0);
    w.sweep(t0 + 11_000, (x) => due.push(x));
    assert.ok(due.includes('late'));
  });
});

describe('carriers', () => {
  const t = 'aaa.bbb.ccc';
  test('each carrier, the subprotocol flag, and the query without access_token', () => {
    assert.deepEqual(carriedToken({ authorization: `Bearer ${t}`, protocols: undefined, query: 'gender=1' }), {
      token: t,
      subprotocol: false,
      query: 'gender=1',
    });
    assert.deepEqual(carriedToken({ authorization: `bearer  ${t}`, protocols: undefined, query: '' }), { token: t, subprotocol: false, query: '' });
    assert.deepEqual(carriedToken({ authorization: undefined, protocols: `luna-sender, bearer.${t}`, query: '' }), { token: t, subprotocol: true, query: '' });
    assert.deepEqual(carriedToken({ authorization: undefined, protocols: undefined, query: `gender=1&access_token=${t}&age__gte=3` }), {
      token: t,
      subprotocol: false,
      query: 'gender=1&age__gte=3',
    });
    assert.deepEqual(carriedToken({ authorization: undefined, protocols: 'chat', query: '' }), { token: undefined, subprotocol: false, query: '' });
    assert.equal(withoutAccessToken(`access%5Ftoken=${t}&gender=1`), 'gender=1');
  });
  test('refusals: disagreeing carriers, repeats, oversized, not a JWS, bearer. without luna-sender', () => {
    const bad = [
      { authorization: `Bearer ${t}`, protocols: 'luna-sender, bearer.x.y.z', query: '' },
      { authorization: `Bearer ${t}`, protocols: undefined, query: 'access_token=x.y.z' },
      { authorization: undefined, protocols: undefined, query: `access_token=${t}&access_token=${t}` },
      { authorization: undefined, protocols: `luna-sender, bearer.${t}, bearer.${t}`, query: '' },
      { authorization: undefined, protocols: `bearer.${t}`, query: '' },
      { authorization: `Bearer ${'a'.repeat(MAX_TOKEN_BYTES)}.b.c`, protocols: undefined, query: '' },
      { authorization: 'Bearer a.b', protocols: undefined, query: '' },
      { authorization: 'Bearer a+b.c.d', protocols: undefined, query: '' },
      { authorization: `Token ${t}`, protocols: undefined, query: '' },
    ];
    for (const input of bad) {
      const r = carriedToken(input);
      assert.ok(r instanceof LunaError && r.status === 401, JSON.stringify(input));
      assert.ok(!r.detail.includes(t));
    }
  });
});

describe('allOf: the filter claim ANDed with the own filter', () => {
  const f = (q: string) => {
    const r = parseFilterQuery(q, LIMITS);
    assert.ok(r.ok);
    return r.filter;
  };
  test('keys: order-free, duplicates and empty parts dropped, one part keys as filterKey', () => {
    assert.equal(allOf(f('gender=1'), undefined).key, filterKey(f('gender=1')));
    assert.equal(allOf(f(''), f('gender=1')).key, filterKey(f('gender=1')));
    assert.equal(allOf(f('gender=1'), f('gender=1')).key, filterKey(f('gender=1')));
    assert.equal(allOf(f('gender=1'), f('age__gte=3')).key, allOf(f('age__gte=3'), f('gender=1')).key);
    assert.notEqual(allOf(f('gender=1'), f('age__gte=3')).key, filterKey(f('gender=1&age__gte=3')));
    assert.equal(allOf().key, filterKey({}));
  });
  test('seeded random pairs: the compiled conjunction equals the interpreter on both parts', () => {
    const { randomQuery, randomEvent } = filterGen(0xa11);
    let pairs = 0;
    let passed = 0;
    while (pairs < 500) {
      const a = parseFilterQuery(randomQuery(), LIMITS);
      const b = parseFilterQuery(randomQuery(), LIMITS);
      if (!a.ok || !b.ok) continue;
      pairs++;
      const p = compileFilter(allOf(a.filter, b.filter).parts);
      for (let j = 0; j < 10; j++) {
        const ev = randomEvent();
        const want = interpretFilter(a.filter, ev, U1) && interpretFilter(b.filter, ev, U1);
        if (p(extractFacts(ev, U1)) !== want) assert.fail(`${JSON.stringify(a.filter)} AND ${JSON.stringify(b.filter)} on ${JSON.stringify(ev)}`);
        if (want) passed++;
      }
    }
    assert.ok(passed > 0, 'no pair passed: the check proves little');
  });
});

describe('keys and the verifier', () => {
  test('loadKeys: PEM and JWKS give each key its algorithms; bad files are ConfigErrors', () => {
    const pem = loadKeys('', keys.pemFile).map((k) => [...k.algorithms].sort().join(','));
    assert.deepEqual(pem, ['PS256,RS256', 'ES256', 'EdDSA']);
    assert.deepEqual(
      loadKeys('', keys.jwksFile).map((k) => k.kid),
      ['rsa-1', 'ec-1', 'ed-1'],
    );
    const file = join(keys.dir, 'bad.json');
    for (const text of [
      '{"keys": [{"kty": "oct", "k": "AAAA"}]}',
      '{"keys": 1}',
      '{',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      'nothing',
    ]) {
      writeFileSync(file, text);
      assert.throws(() => loadKeys('', file), ConfigError, text);
    }
    assert.throws(() => loadKeys('x'.repeat(31), ''), /shorter than 32 bytes/);
    assert.throws(() => loadKeys('', join(keys.dir, 'missing.pem')), /cannot read/);
  });

  test('loadConfig refuses SENDER_AUTH=jwt without a key; secrets are secret', () => {
    assert.throws(() => loadConfig({ SENDER_AUTH: 'jwt' }), /needs a key/);
    assert.equal(loadConfig({ SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: keys.secret }).SENDER_AUTH, 'jwt');
  });

  test('a verified token is cached (the same grant again); failures are not cached', async () => {
    const v = new Verifier({ keys: loadKeys(keys.secret, ''), leewayS: 0, audience: '', issuer: '', limits: LIMITS });
    const t = await sign(keys.secret, ACCOUNT, { ttl: 60 });
    const first = v.verify(t);
    assert.ok(!(first instanceof Error));
    assert.equal(v.cached, 1);
    assert.equal(v.verify(t), first, 'a cached token is answered from the cache (the same object)');
    const bad = `${t.slice(0, -2)}AA`;
    assert.ok(v.verify(bad) instanceof LunaError);
    assert.ok(v.verify(bad) instanceof LunaError);
    assert.equal(v.cached, 1, 'a failure is not cached');
  });
});
