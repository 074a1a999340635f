import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publishBody } from '../helpers/http.js';
import { prng } from '../helpers/prng.js';
import { makeKeys, sign, type TestKeys } from '../helpers/tokens.js';
import { connect, type HttpError } from '../helpers/ws-client.js';

/**
 * A few thousand mutated tokens (bits flipped in the decoded segments, segments truncated, dropped,
 * swapped or duplicated, bytes outside base64url): every one is refused with 401 and the worker
 * stays healthy (a good token still subscribes and publishes afterwards). Seeded: a failure
 * reproduces from FUZZ_SEED.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed11);
const ROUNDS = 3000;
let keys: TestKeys;
let gw: Gateway;

before(async () => {
  keys = makeKeys();
  gw = await startGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: keys.secret, SENDER_AUTH_PUBLIC_KEYS: keys.pemFile });
});
after(async () => {
  await gw.stop();
  keys.remove();
});

/** Characters that are not base64url but can travel in a header value. */
const ODD = '!#$%&*+/=?^`{|}~"\'(),;:<>[]\\ ';

function mutate(token: string, rand: () => number): string {
  const parts = token.split('.');
  const pick = (n: number) => Math.floor(rand() * n);
  switch (pick(6)) {
    case 0: {
      // Flip 1..3 bits of the decoded bytes of one segment, re-encoded canonically (so the bytes differ).
      const i = pick(3);
      const bytes = Buffer.from(parts[i], 'base64url');
      if (bytes.length === 0) return `${token}x`;
      for (let k = 0, m = 1 + pick(3); k < m; k++) bytes[pick(bytes.length)] ^= 1 << pick(8);
      parts[i] = bytes.toString('base64url');
      return parts.join('.');
    }
    case 1: {
      // Truncate one segment (possibly to nothing).
      const i = pick(3);
      parts[i] = parts[i].slice(0, pick(parts[i].length));
      return parts.join('.');
    }
    case 2: {
      // Bad base64: a character that base64url does not have, somewhere.
      const at = pick(token.length);
      return token.slice(0, at) + ODD[pick(ODD.length)] + token.slice(at + 1);
    }
    case 3:
      // A segment dropped, or one too many.
      return rand() < 0.5 ? parts.filter((_, i) => i !== pick(3)).join('.') : `${token}.${parts[pick(3)]}`;
    case 4: {
      // Segments swapped.
      const [a, b] = [pick(3), pick(3)];
      [parts[a], parts[b]] = [parts[b], parts[a]];
      return a === b ? `${parts.join('.')}.` : parts.join('.');
    }
    default: {
      // A random printable-ASCII byte replaced (may or may not be base64url).
      const at = pick(token.length);
      const c = String.fromCharCode(0x21 + pick(0x5e));
      const out = token.slice(0, at) + c + token.slice(at + 1);
      return out === token ? `${token}A` : out;
    }
  }
}

test(`${ROUNDS} mutated tokens are all refused with 401 and the worker stays healthy`, async () => {
  const rand = prng(SEED);
  const good = [
    await sign(keys.secret, ACCOUNT),
    await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256' }),
    await sign(keys.ec.privateKey, ACCOUNT, { alg: 'ES256' }),
    await sign(keys.ed.privateKey, ACCOUNT, { alg: 'EdDSA' }),
  ];
  const statuses = new Map<number, number>();
  for (let i = 0; i < ROUNDS; i++) {
    const original = good[i % good.length];
    let t = mutate(original, rand);
    if (t === original) t = `${t}x`; // a bit flipped twice, say: a mutation must change the text
    // Most through publish (keep-alive, cheap); every tenth through the upgrade (the async path there).
    let status: number;
    let body: string;
    if (i % 10 === 0) {
      try {
        (await connect(`ws://127.0.0.1:${gw.port}/1/ws`, { Authorization: `Bearer ${t}` })).close();
        status = 101;
        body = '';
      } catch (e) {
        status = (e as HttpError).status;
        body = (e as HttpError).body;
      }
    } else {
      const a = await http(`${gw.url}/1/publish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` },
        body: publishBody([{}]),
      });
      status = a.status;
      body = a.text;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.equal(status, 401, `round ${i} (seed ${SEED}): ${JSON.stringify(t)} -> ${status} ${body}`);
    assert.ok(t.length < 8 || !body.includes(t), `round ${i}: the token is echoed: ${JSON.stringify(t)} in ${body}`);
  }
  assert.deepEqual([...statuses], [[401, ROUNDS]]);
  // Still healthy: a good token subscribes and receives what it publishes.
  const c = await connect(`ws://127.0.0.1:${gw.port}/1/ws`, { Authorization: `Bearer ${good[1]}` });
  const a = await http(`${gw.url}/1/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${good[0]}` },
    body: publishBody([{}]),
  });
  assert.equal(a.status, 201, a.text);
  await c.waitFor(1);
  c.close();
  assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
});
