import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, http, OTHER_ACCOUNT, publishBody } from '../helpers/http.js';
import { rawHttp } from '../helpers/raw-http.js';
import { b64url, makeKeys, sign, type TestKeys } from '../helpers/tokens.js';
import { type Client, connect, type HttpError } from '../helpers/ws-client.js';

/**
 * SENDER_AUTH=jwt (SPEC 10) against the real gateway with real tokens: every carrier, every kind
 * of bad token (401, with WWW-Authenticate), account and permission (403), the filter claim on live
 * and replayed events, 4001 at expiry, publish. Keys are generated per run and removed after.
 * "Nothing more arrived" is decided by a sentinel event, never by waiting.
 */
const AUD = 'luna-sender-test';
const ISS = 'https://issuer.test';
let keys: TestKeys;
let gw: Gateway;

before(async () => {
  keys = makeKeys();
  gw = await startGateway({
    SENDER_AUTH: 'jwt',
    SENDER_AUTH_HMAC_SECRETS: `an-old-secret-that-is-32-bytes-long!!,${keys.secret}`,
    SENDER_AUTH_PUBLIC_KEYS: keys.pemFile,
    SENDER_AUTH_AUDIENCE: AUD,
    SENDER_AUTH_ISSUER: ISS,
    SENDER_AUTH_LEEWAY: '0',
  });
});
after(async () => {
  await gw.stop();
  keys.remove();
});

const std = { aud: AUD, iss: ISS };
const hs = (claims: Record<string, unknown> = {}, ttl?: number, account = ACCOUNT) => sign(keys.secret, account, { claims: { ...std, ...claims }, ttl });
const wsUrl = (query = '', g = gw) => `ws://127.0.0.1:${g.port}/2/ws${query ? `?${query}` : ''}`;
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

async function refused(p: Promise<Client>): Promise<{ status: number; code: number; detail: string; headers: HttpError['headers'] }> {
  let c: Client;
  try {
    c = await p;
  } catch (e) {
    const err = e as HttpError;
    assert.ok(err.status !== undefined, `no HTTP answer: ${String(e)}`);
    const body = JSON.parse(err.body);
    return { status: err.status, code: body.error_code, detail: body.detail, headers: err.headers };
  }
  c.close();
  throw new Error('upgrade was accepted');
}

async function unauthorized(p: Promise<Client>, token?: string): Promise<string> {
  const r = await refused(p);
  assert.equal(r.status, 401, r.detail);
  assert.equal(r.code, 29011);
  assert.equal(r.headers['www-authenticate'], 'Bearer');
  if (token !== undefined && token.length > 8) assert.ok(!r.detail.includes(token), 'the token is echoed');
  return r.detail;
}

async function forbidden(p: Promise<Client>): Promise<string> {
  const r = await refused(p);
  assert.equal(r.status, 403, r.detail);
  assert.equal(r.code, 29001);
  return r.detail;
}

let n = 0;
async function publishAs(token: string, events: unknown[], headers: Record<string, string> = {}) {
  return http(`${gw.url}/1/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(token), ...headers },
    body: publishBody(events),
  });
}
/** Publishes `events` then a sentinel every client in `clients` receives; resolves when all have it. */
async function withSentinel(token: string, events: unknown[], clients: Client[], sentinelEvent: Record<string, unknown> = {}): Promise<void> {
  const mark = `s${n++}`;
  const a = await publishAs(token, [...events, { sentinel: mark, ...sentinelEvent }]);
  assert.equal(a.status, 201, a.text);
  await Promise.all(
    clients.map(async (c) => {
      while (!c.messages.some((m) => m.includes(`"sentinel":"${mark}"`))) await c.waitFor(c.messages.length + 1);
    }),
  );
}
const gender = (g: number) => ({ face_attributes: { basic_attributes: { gender: g } } });

describe('carriers', () => {
  test('Authorization: Bearer; no subprotocol is selected', async () => {
    const c = await connect(wsUrl(), bearer(await hs()));
    assert.equal(c.headers['sec-websocket-protocol'], undefined);
    c.close();
  });

  test('the subprotocol list (luna-sender, bearer.<token>) is answered with luna-sender', async () => {
    const c = await connect(wsUrl(), {}, ['luna-sender', `bearer.${await hs()}`]);
    assert.equal(c.ws.protocol, 'luna-sender');
    assert.equal(c.headers['sec-websocket-protocol'], 'luna-sender');
    c.close();
  });

  test('a bearer. entry without luna-sender in the list is refused', async () => {
    await unauthorized(connect(wsUrl(), {}, [`bearer.${await hs()}`]));
  });

  test('access_token in the query: accepted, not an unknown filter parameter, filters beside it work', async () => {
    const t = await hs();
    const c = await connect(wsUrl(`gender=1&access_token=${t}`));
    await withSentinel(t, [gender(0)], [c], gender(1));
    assert.equal(c.messages.length, 1);
    c.close();
    // A bad filter beside it: the error names the filter, never the token.
    const r = await refused(connect(wsUrl(`access_token=${t}&gender=7`)));
    assert.equal(r.status, 400);
    assert.ok(!r.detail.includes(t));
  });

  test('the same token in two carriers is accepted; different tokens are 401', async () => {
    const t = await hs();
    const u = await hs({ jti: 'other' });
    (await connect(wsUrl(`access_token=${t}`), bearer(t))).close();
    await unauthorized(connect(wsUrl(`access_token=${u}`), bearer(t)));
    await unauthorized(connect(wsUrl(), bearer(t), ['luna-sender', `bearer.${u}`]));
    await unauthorized(connect(wsUrl(`access_token=${t}&access_token=${t}`)));
  });

  test('no token: 401 with WWW-Authenticate: Bearer; a malformed Authorization: 401', async () => {
    await unauthorized(connect(wsUrl()));
    await unauthorized(connect(wsUrl(), { Authorization: `Basic ${b64url('a:b')}` }));
    await unauthorized(connect(wsUrl(), { Authorization: 'Bearer' }));
  });

  test('oversized tokens: 9 KiB is 401, a 1 MiB header is refused without a 500 or a hang; the worker stays healthy', async () => {
    await unauthorized(connect(wsUrl(), bearer('a'.repeat(9 * 1024))));
    const big = `GET /2/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${'a'.repeat(1024 * 1024)}\r\n\r\n`;
    const a = await rawHttp(gw.port, big, 10000);
    assert.ok(a.status === 0 || (a.status >= 400 && a.status < 500), `got ${a.status}`);
    assert.ok(a.closedByServer, 'the server left the connection hanging');
    assert.equal((await http(`${gw.url}/version`)).status, 200);
  });
});

describe('aborts', () => {
  test('clients that go away while their token is being verified leave the worker healthy', async () => {
    const { connect: tcp } = await import('node:net');
    for (let i = 0; i < 50; i++) {
      // A fresh RS256 token each time: never cached, so the check is asynchronous.
      const t = await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256', claims: { ...std, jti: `abort-${i}` } });
      const req = `GET /2/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${t}\r\n\r\n`;
      await new Promise<void>((resolve) => {
        const s = tcp(gw.port, '127.0.0.1', () => {
          s.write(req);
          s.destroy();
        });
        s.on('close', () => resolve());
        s.on('error', () => undefined);
      });
    }
    (await connect(wsUrl(), bearer(await hs()))).close();
    assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
  });
});

describe('keys and algorithms', () => {
  test('every configured key verifies: both HMAC secrets (rotation), HS384/HS512, RS256, PS256, ES256, EdDSA', async () => {
    const tokens = [
      await sign('an-old-secret-that-is-32-bytes-long!!', ACCOUNT, { claims: std }),
      await sign(keys.secret, ACCOUNT, { alg: 'HS384', claims: std }),
      await sign(keys.secret, ACCOUNT, { alg: 'HS512', claims: std }),
      await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS256', claims: std }),
      await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'PS256', claims: std }),
      await sign(keys.ec.privateKey, ACCOUNT, { alg: 'ES256', claims: std }),
      await sign(keys.ed.privateKey, ACCOUNT, { alg: 'EdDSA', claims: std }),
    ];
    for (const t of tokens) (await connect(wsUrl(), bearer(t))).close();
  });

  test('alg none is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...std, account_id: ACCOUNT, permissions: { event: ['view'] }, exp: now + 600 };
    for (const alg of ['none', 'None', 'NONE']) {
      const t = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.`;
      await unauthorized(connect(wsUrl(), bearer(t)), t);
    }
  });

  test('algorithm confusion: HS256 signed with the RSA public key (PEM and DER) as the secret is refused', async () => {
    const { createHmac } = await import('node:crypto');
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...std, account_id: ACCOUNT, permissions: { event: ['view'] }, exp: now + 600 };
    const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
    for (const secret of [keys.rsa.publicKey.export({ type: 'spki', format: 'pem' }), keys.rsa.publicKey.export({ type: 'spki', format: 'der' })]) {
      const t = `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
      await unauthorized(connect(wsUrl(), bearer(t)), t);
    }
  });

  test('a key that is not configured is refused (secret, RSA, EC, Ed25519)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const other = [
      await sign('another-secret-that-is-also-32-bytes-long', ACCOUNT, { claims: std }),
      await sign(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, ACCOUNT, { alg: 'RS256', claims: std }),
      await sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, ACCOUNT, { alg: 'ES256', claims: std }),
      await sign(generateKeyPairSync('ed25519').privateKey, ACCOUNT, { alg: 'EdDSA', claims: std }),
      await sign(keys.rsa.privateKey, ACCOUNT, { alg: 'RS384', claims: std }), // an algorithm no key has
    ];
    for (const t of other) await unauthorized(connect(wsUrl(), bearer(t)), t);
  });
});

describe('claims', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => Promise<string>][] = [
    ['expired', () => hs({}, -60)],
    ['not yet valid (nbf)', () => hs({ nbf: now() + 600 })],
    ['issued in the future (iat)', () => hs({ iat: now() + 600 })],
    ['wrong audience', () => hs({ aud: 'someone-else' })],
    ['no audience', () => hs({ aud: undefined })],
    ['wrong issuer', () => hs({ iss: 'https://evil.test' })],
    ['no exp', () => hs({ exp: undefined })],
    ['no account_id', () => hs({ account_id: undefined })],
    ['account_id not a UUID', () => hs({ account_id: 'not-a-uuid' })],
    ['account_id a number', () => hs({ account_id: 42 })],
    ['no permissions', () => hs({ permissions: undefined })],
    ['permissions not in the LP5 shape', () => hs({ permissions: ['view'] })],
  ];
  for (const [name, make] of cases) {
    test(`${name}: 401`, async () => {
      const t = await make();
      await unauthorized(connect(wsUrl(), bearer(t)), t);
    });
  }

  test('the account: header or luna_account_id must be the token account (any case), else 403', async () => {
    const t = await hs();
    (await connect(wsUrl(), { ...bearer(t), 'Luna-Account-Id': ACCOUNT.toUpperCase() })).close();
    (await connect(wsUrl(`luna_account_id=${ACCOUNT.toUpperCase()}`), bearer(t))).close();
    await forbidden(connect(wsUrl(), { ...bearer(t), 'Luna-Account-Id': OTHER_ACCOUNT }));
    await forbidden(connect(wsUrl(`luna_account_id=${OTHER_ACCOUNT}`), bearer(t)));
  });

  test("a token without 'view' cannot subscribe (403)", async () => {
    await forbidden(connect(wsUrl(), bearer(await hs({ permissions: { event: ['creation'] } }))));
  });

  test('an unusable filter claim is 403: invalid, not a string, or with session parameters', async () => {
    for (const filter of ['gender=7', 'nonsense=1', 42, 'gender=1&resume=x:1-0', `luna_account_id=${OTHER_ACCOUNT}`]) {
      await forbidden(connect(wsUrl(), bearer(await hs({ filter }))));
    }
  });

  test('SPEC order: token before account before query parameters', async () => {
    // A bad token with a bad account and a bad filter: 401.
    await unauthorized(connect(wsUrl('gender=7'), { ...bearer(await hs({}, -60)), 'Luna-Account-Id': OTHER_ACCOUNT }));
    // A good token, another account and a bad filter: 403.
    await forbidden(connect(wsUrl('gender=7'), { ...bearer(await hs()), 'Luna-Account-Id': OTHER_ACCOUNT }));
    // A malformed request id comes first of all.
    const r = await refused(connect(wsUrl(), { 'Luna-Request-Id': 'bad' }));
    assert.equal(r.status, 400);
  });
});

describe('the filter claim', () => {
  test('narrows live events; equal combinations share one topic', async () => {
    const restricted = await hs({ filter: 'gender=1' });
    const plain = await hs();
    const a = await connect(wsUrl(), bearer(restricted)); // restriction only
    const b = await connect(wsUrl('gender=1'), bearer(plain)); // the same filter, its own: same key
    const c = await connect(wsUrl('gender=0'), bearer(restricted)); // nothing can pass both
    const all = await connect(wsUrl(), bearer(plain));
    const before = gw.worker.context.readings().distinctFilters;
    await withSentinel(plain, [gender(0), { k: 'no gender' }], [a, b, all], gender(1));
    assert.equal(a.messages.length, 1);
    assert.equal(b.messages.length, 1);
    assert.equal(all.messages.length, 3);
    // c's filter (gender=0 AND gender=1) passes nothing; `all` saw everything published to c's account.
    assert.equal(c.messages.length, 0);
    // a and b share a topic; c and `all` are one each.
    assert.equal(before, 3);
    for (const x of [a, b, c, all]) x.close();
  });

  test('the client cannot widen it: a wider own filter still gets only what the restriction passes', async () => {
    const restricted = await hs({ filter: 'gender=1' });
    const c = await connect(wsUrl('age__gte=0'), bearer(restricted));
    await withSentinel(restricted, [gender(0), { ...gender(0), face_attributes: { basic_attributes: { gender: 0, age: 30 } } }], [c], {
      face_attributes: { basic_attributes: { gender: 1, age: 30 } },
    });
    assert.equal(c.messages.length, 1);
    c.close();
  });

  test('narrows replayed events (resume)', async () => {
    const restricted = await hs({ filter: 'gender=1' });
    const first = await connect(wsUrl('positions=1'), bearer(restricted));
    const position = String(first.headers['luna-stream-position']);
    first.close();
    await first.closed;
    const plain = await hs();
    const mark = `r${n++}`;
    const a = await publishAs(plain, [gender(0), { ...gender(1), replayed: mark }, gender(0)]);
    assert.equal(a.status, 201);
    const resumed = await connect(wsUrl(`resume=${encodeURIComponent(position)}`), bearer(restricted));
    await withSentinel(plain, [gender(0)], [resumed], gender(1));
    assert.equal(resumed.messages.length, 2, resumed.messages.join('\n'));
    assert.ok(resumed.messages[0].includes(`"replayed":"${mark}"`));
    resumed.close();
  });
});

describe('expiry', () => {
  test('a socket is closed with 4001 token expired when exp (plus leeway 0) passes', async () => {
    const c = await connect(wsUrl(), bearer(await hs({}, 2)));
    const closed = await c.closed;
    assert.deepEqual(closed, { code: 4001, reason: 'token expired' });
  });
});

describe('publish', () => {
  test('no token: 401; a token without creation: 403; another account header: 403', async () => {
    const none = await http(`${gw.url}/1/publish`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT },
      body: publishBody([{}]),
    });
    assert.equal(none.status, 401);
    assert.equal(errorBody(none).error_code, 29011);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const viewOnly = await publishAs(await hs({ permissions: { event: ['view'] } }), [{}]);
    assert.equal(viewOnly.status, 403, viewOnly.text);
    const other = await publishAs(await hs(), [{}], { 'Luna-Account-Id': OTHER_ACCOUNT });
    assert.equal(other.status, 403, other.text);
    assert.equal(errorBody(other).error_code, 29001);
  });

  test("the token's account is the account: events reach that account's subscribers, not the header's", async () => {
    const mine = await connect(wsUrl(), bearer(await hs()));
    const others = await connect(wsUrl(), bearer(await hs({}, undefined, OTHER_ACCOUNT)));
    const otherToken = await hs({}, undefined, OTHER_ACCOUNT);
    // Published with OTHER_ACCOUNT's token and no header: only OTHER_ACCOUNT's subscriber has it.
    const mark = `p${n++}`;
    assert.equal((await publishAs(otherToken, [{ marker: mark }])).status, 201);
    await withSentinel(await hs(), [], [mine]);
    await others.waitFor(1);
    assert.ok(others.messages[0].includes(mark));
    assert.ok(!mine.messages.some((m) => m.includes(mark)));
    // access_token in the publish query is a carrier too.
    const q = await http(`${gw.url}/1/publish?access_token=${otherToken}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: publishBody([{}]),
    });
    assert.equal(q.status, 201, q.text);
    mine.close();
    others.close();
  });
});
