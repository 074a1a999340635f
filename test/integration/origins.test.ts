import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, http, publish, publishBody } from '../helpers/http.js';
import { connect, type HttpError } from '../helpers/ws-client.js';

// SPEC 10, Origins: SENDER_ALLOWED_ORIGINS for upgrades and CORS, in both auth modes.
const APP = 'https://app.example.com';
const OTHER = 'http://other.example:8080';
let gw: Gateway;
let any: Gateway;

before(async () => {
  gw = await startGateway({ SENDER_ALLOWED_ORIGINS: `${APP}, ${OTHER}` });
  any = await startGateway();
});
after(async () => {
  await gw.stop();
  await any.stop();
});

const wsUrl = (g: Gateway) => `${g.url.replace('http', 'ws')}/1/ws?luna_account_id=${ACCOUNT}`;

async function refusedUpgrade(url: string, headers: Record<string, string>): Promise<HttpError> {
  try {
    const c = await connect(url, headers);
    c.close();
  } catch (err) {
    return err as HttpError;
  }
  throw new Error('the upgrade was accepted');
}

test('an upgrade from an origin that is not allowed is refused with 403/29001 naming the origin', async () => {
  const err = await refusedUpgrade(wsUrl(gw), { Origin: 'https://evil.example' });
  assert.equal(err.status, 403);
  const body = JSON.parse(err.body);
  assert.equal(body.error_code, 29001);
  assert.match(body.detail, /Origin 'https:\/\/evil\.example' is not allowed/);
  // A path, a different port or scheme is another origin.
  for (const o of [`${APP}/`, 'https://app.example.com:8443', 'http://app.example.com', 'null']) {
    assert.equal((await refusedUpgrade(wsUrl(gw), { Origin: o })).status, 403, o);
  }
});

test('allowed origins (compared case-insensitively) and requests without Origin get their socket', async () => {
  for (const headers of [{ Origin: APP }, { Origin: 'HTTP://Other.Example:8080' }, {}] as Record<string, string>[]) {
    const c = await connect(wsUrl(gw), headers);
    await publish(gw.url, publishBody([{ event_id: 'e1' }]));
    assert.match((await c.waitFor(1))[0]!, /"e1"/);
    c.close();
    await c.closed;
  }
});

test('the request id is checked before the origin; the origin before the account', async () => {
  const badRid = await refusedUpgrade(wsUrl(gw), { Origin: 'https://evil.example', 'Luna-Request-Id': 'nope' });
  assert.equal(badRid.status, 400);
  const noAccount = await refusedUpgrade(`${gw.url.replace('http', 'ws')}/1/ws`, { Origin: 'https://evil.example' });
  assert.equal(noAccount.status, 403);
  assert.match(JSON.parse(noAccount.body).detail, /Origin/);
});

test('with the default `*` every origin upgrades and HTTP answers say Access-Control-Allow-Origin: *', async () => {
  const c = await connect(wsUrl(any), { Origin: 'https://anything.example' });
  c.close();
  const a = await http(`${any.url}/version`, { headers: { Origin: 'https://anything.example' } });
  assert.equal(a.headers.get('access-control-allow-origin'), '*');
  assert.equal(a.headers.get('access-control-expose-headers'), 'Luna-Request-Id');
});

test('HTTP answers to an allowed origin carry CORS headers, errors too; other origins and no Origin get none', async () => {
  for (const path of ['/version', '/nowhere', '/1/publish']) {
    const a = await http(`${gw.url}${path}`, { headers: { Origin: APP } });
    assert.equal(a.headers.get('access-control-allow-origin'), APP, path);
    assert.equal(a.headers.get('vary'), 'Origin', path);
    assert.equal(a.headers.get('access-control-expose-headers'), 'Luna-Request-Id', path);
  }
  const pub = await publish(gw.url, publishBody([{ event_id: 'e2' }]), { Origin: OTHER });
  assert.equal(pub.status, 201);
  assert.equal(pub.headers.get('access-control-allow-origin'), OTHER);
  for (const headers of [{ Origin: 'https://evil.example' }, {}] as Record<string, string>[]) {
    const a = await http(`${gw.url}/version`, { headers });
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('access-control-allow-origin'), null);
  }
});

test('a preflight is answered 204 with the route methods, the request headers and a max age', async () => {
  const headers = { Origin: APP, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, luna-account-id' };
  const pre = await http(`${gw.url}/1/publish`, { method: 'OPTIONS', headers });
  assert.equal(pre.status, 204);
  assert.equal(pre.text, '');
  assert.equal(pre.headers.get('access-control-allow-origin'), APP);
  assert.equal(pre.headers.get('access-control-allow-methods'), 'POST');
  assert.equal(pre.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, Luna-Account-Id, Luna-Request-Id, Idempotency-Key');
  assert.ok(Number(pre.headers.get('access-control-max-age')) > 0);
  const ws = await http(`${gw.url}/2/ws`, { method: 'OPTIONS', headers });
  assert.equal(ws.headers.get('access-control-allow-methods'), 'GET, HEAD');
});

test('a preflight from another origin is 403/29001; on an unknown path 404; OPTIONS without Origin stays 405', async () => {
  const refused = await http(`${gw.url}/1/publish`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(refused.status, 403);
  assert.equal(errorBody(refused).error_code, 29001);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
  assert.equal((await http(`${gw.url}/nowhere`, { method: 'OPTIONS', headers: { Origin: APP } })).status, 404);
  const plain = await http(`${gw.url}/1/publish`, { method: 'OPTIONS' });
  assert.equal(plain.status, 405);
  assert.equal(errorBody(plain).error_code, 12021);
});

test('SENDER_ALLOWED_ORIGINS is checked at start-up: `*` or scheme://host[:port] items', () => {
  for (const ok of ['*', APP, `${APP},${OTHER}`, ` ${APP} , http://127.0.0.1:5173 `, 'app://local-app']) {
    assert.equal(loadConfig({ SENDER_ALLOWED_ORIGINS: ok }).SENDER_ALLOWED_ORIGINS, ok);
  }
  for (const bad of ['', 'app.example.com', `${APP}/`, `${APP}/path`, `${APP},`, 'https://user@a.example']) {
    assert.throws(
      () => loadConfig({ SENDER_ALLOWED_ORIGINS: bad }),
      (e: unknown) => e instanceof ConfigError && /SENDER_ALLOWED_ORIGINS/.test(e.message),
      bad,
    );
  }
});
