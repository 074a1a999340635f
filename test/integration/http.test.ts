import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, http, publish, publishBody, REQUEST_ID } from '../helpers/http.js';

const RID_RE = /^[0-9]{10},[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$/;
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
let gw: Gateway;

before(async () => {
  gw = await startGateway({
    SENDER_PLUGINS: [fixture('plugin-ok'), fixture('plugin-crash'), fixture('plugin-bad-export')].join(','),
    SENDER_MAX_BODY_BYTES: '2048',
    REDIS_SENTINEL_PASSWORD: 'topsecret',
  });
});
after(() => gw.stop());

test('GET /version answers the package version', async () => {
  const a = await http(`${gw.url}/version`);
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'application/json');
  assert.deepEqual(a.json(), { Version: { api: 2, major: 0, minor: 1, patch: 0 } });
});

test('Luna-Request-Id: generated when absent, echoed when valid, 400/12012 when malformed', async () => {
  const gen = await http(`${gw.url}/version`);
  assert.match(gen.headers.get('luna-request-id')!, RID_RE);
  const echo = await http(`${gw.url}/version`, { headers: { 'Luna-Request-Id': REQUEST_ID } });
  assert.equal(echo.headers.get('luna-request-id'), REQUEST_ID);
  for (const bad of ['abc', '153675134,8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a', '1536751345,8B8B5937-2E9C-4E8B-A7A7-5CAF86621B5A', `${REQUEST_ID}x`]) {
    const a = await http(`${gw.url}/version`, { headers: { 'Luna-Request-Id': bad } });
    assert.equal(a.status, 400, bad);
    assert.equal(errorBody(a).error_code, 12012);
    assert.match(errorBody(a).detail, /Luna-Request-Id/);
    assert.match(a.headers.get('luna-request-id')!, RID_RE);
  }
});

test('unknown paths are 404/12013, wrong methods 405/12021 with Allow', async () => {
  for (const path of ['/nope', '/3/ws', '/0/publish', '/version/', '/docs', '/1/publish/x', '/%zz', '/1//ws']) {
    const a = await http(`${gw.url}${path}`);
    assert.equal(a.status, 404, path);
    assert.deepEqual(errorBody(a), { error_code: 12013, desc: 'Resource not found', detail: errorBody(a).detail });
  }
  for (const [method, path] of [
    ['POST', '/version'],
    ['DELETE', '/config'],
    ['PUT', '/1/publish'],
    ['GET', '/2/publish'],
    ['PATCH', '/healthcheck'],
  ]) {
    const a = await http(`${gw.url}${path}`, { method });
    assert.equal(a.status, 405, `${method} ${path}`);
    assert.equal(errorBody(a).error_code, 12021);
    assert.ok(a.headers.get('allow'));
  }
});

test('HEAD is GET without a body', async () => {
  const a = await http(`${gw.url}/version`, { method: 'HEAD' });
  assert.equal(a.status, 200);
  assert.equal(a.text, '');
  assert.equal(a.headers.get('content-length'), String(JSON.stringify({ Version: { api: 2, major: 0, minor: 1, patch: 0 } }).length));
  assert.match(a.headers.get('luna-request-id')!, RID_RE);
  assert.equal((await http(`${gw.url}/1/publish`, { method: 'HEAD' })).status, 405);
  assert.equal((await http(`${gw.url}/version`)).status, 200);
});

test('a plain GET on /{api}/ws is 426 websocket upgrade required', async () => {
  for (const api of [1, 2]) {
    const a = await http(`${gw.url}/${api}/ws`, { headers: { 'Luna-Account-Id': ACCOUNT } });
    assert.equal(a.status, 426);
    assert.deepEqual(errorBody(a), { error_code: 12012, desc: 'Bad/incomplete input data', detail: 'websocket upgrade required' });
  }
});

test('GET /config: JSON by default, text/plain on request, secrets masked, 415 for nothing acceptable', async () => {
  const json = await http(`${gw.url}/config`);
  assert.equal(json.status, 200);
  assert.equal(json.json().SENDER_MAX_BODY_BYTES, 2048);
  assert.equal(json.json().REDIS_SENTINEL_PASSWORD, '********');
  assert.doesNotMatch(json.text, /topsecret/);
  const text = await http(`${gw.url}/config`, { headers: { Accept: 'text/plain' } });
  assert.match(text.headers.get('content-type')!, /^text\/plain/);
  assert.match(text.text, /^SENDER_MAX_BODY_BYTES = 2048$/m);
  assert.match(text.text, /^REDIS_SENTINEL_PASSWORD = \*{8}$/m);
  const q = await http(`${gw.url}/config`, { headers: { Accept: 'application/json;q=0.2, text/plain;q=0.9' } });
  assert.match(q.headers.get('content-type')!, /^text\/plain/);
  const none = await http(`${gw.url}/config`, { headers: { Accept: 'image/png' } });
  assert.equal(none.status, 415);
  assert.equal(errorBody(none).error_code, 12024);
});

test('GET /plugins lists plugins; a crashing one is marked running 0 and the worker goes on', async () => {
  const before = await http(`${gw.url}/plugins`);
  assert.deepEqual(before.json(), {
    plugins: [
      { name: 'counter', running: 1 },
      { name: 'crasher', running: 1 },
      { name: 'plugin-bad-export', running: 0 },
    ],
  });
  const p = await publish(gw.url, publishBody([{ a: 1 }]));
  assert.equal(p.status, 201);
  // The event reaches the plugins on the next tick of the bus; poll (deadline, not a timing assert).
  for (let i = 0; i < 100; i++) {
    const now = (await http(`${gw.url}/plugins`)).json();
    if (now.plugins[1].running === 0) {
      assert.equal(now.plugins[0].running, 1);
      assert.ok((globalThis as Record<string, any>).__pluginOkSeen.events >= 1);
      assert.equal((await http(`${gw.url}/version`)).status, 200);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('crashing plugin was never marked running 0');
});

test('GET /metrics is Prometheus text', async () => {
  const a = await http(`${gw.url}/metrics`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type')!, /^text\/plain; version=0.0.4/);
  for (const name of [
    'luna_sender_open_connections',
    'luna_sender_subscriptions',
    'luna_sender_distinct_filters',
    'luna_sender_events_in_total',
    'luna_sender_topic_publishes_total',
    'luna_sender_ws_closes_total',
    'luna_sender_slow_consumer_closes_total',
    'luna_sender_stream_lag_seconds',
    'luna_sender_publish_latency_seconds_count',
  ]) {
    assert.match(a.text, new RegExp(`^# TYPE ${name.replace(/_count$/, '')} `, 'm'), name);
  }
  assert.match(a.text, /^luna_sender_published_events_total \d+$/m);
});

test('GET /healthcheck on the in-process bus is 200 with execution_time', async () => {
  const a = await http(`${gw.url}/healthcheck`);
  assert.equal(a.status, 200);
  assert.equal(typeof a.json().execution_time, 'number');
});

test('publish errors: account, content type, empty, not JSON, schema, too large', async () => {
  const body = publishBody([{ a: 1 }]);
  const noAccount = await http(`${gw.url}/1/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  assert.equal(noAccount.status, 403);
  assert.deepEqual(errorBody(noAccount), { error_code: 29001, desc: 'Forbidden', detail: "Cannot publish events without 'Luna-Account-Id' header set" });
  const emptyAccount = await publish(gw.url, body, { 'Luna-Account-Id': '' });
  assert.equal(emptyAccount.status, 403);
  const badAccount = await publish(gw.url, body, { 'Luna-Account-Id': 'not-a-uuid' });
  assert.equal(badAccount.status, 400);
  assert.equal(errorBody(badAccount).error_code, 12012);
  const ct = await publish(gw.url, body, { 'Content-Type': 'text/plain' });
  assert.equal(ct.status, 400);
  assert.equal(errorBody(ct).error_code, 12017);
  const charset = await publish(gw.url, body, { 'Content-Type': 'application/json; charset=utf-8' });
  assert.equal(charset.status, 201);
  const empty = await publish(gw.url, '');
  assert.equal(empty.status, 400);
  assert.equal(errorBody(empty).error_code, 12030);
  const notJson = await publish(gw.url, '{"events": [');
  assert.equal(notJson.status, 400);
  assert.equal(errorBody(notJson).error_code, 12002);
  const cases: Array<[string, string]> = [
    [JSON.stringify({ events: [{}], event_create_time: 'a', event_end_time: 'b' }), "Path: 'handler_id', message: 'field required'"],
    [publishBody([]), "Path: 'events'"],
    [publishBody([1]), "Path: 'events.0'"],
    [publishBody([{}], { extra: 1 }), "Path: 'extra', message: 'extra fields not permitted'"],
    [publishBody([{}], { handler_id: 5 }), "Path: 'handler_id', message: 'str type expected'"],
    ['[]', 'Failed to validate input json'],
  ];
  for (const [b, detail] of cases) {
    const a = await publish(gw.url, b);
    assert.equal(a.status, 400, b);
    assert.equal(errorBody(a).error_code, 11027);
    assert.ok(errorBody(a).detail.startsWith('Failed to validate input json.'), errorBody(a).detail);
    assert.ok(errorBody(a).detail.includes(detail), `${errorBody(a).detail} lacks ${detail}`);
  }
  const big = await publish(gw.url, publishBody([{ pad: 'x'.repeat(4000) }]));
  assert.equal(big.status, 413);
  assert.equal(errorBody(big).error_code, 12040);
  const ok = await publish(gw.url, publishBody([{ a: 1 }, { b: 2 }]), { 'Luna-Request-Id': REQUEST_ID });
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.json(), { published: 2 });
  assert.equal(ok.headers.get('luna-request-id'), REQUEST_ID);
});

test('error order: request id before account before body', async () => {
  const a = await http(`${gw.url}/1/publish`, { method: 'POST', headers: { 'Luna-Request-Id': 'x', 'Content-Type': 'text/plain' }, body: '' });
  assert.equal(a.status, 400);
  assert.match(errorBody(a).detail, /Luna-Request-Id/);
  const b = await http(`${gw.url}/1/publish`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'zzz' });
  assert.equal(b.status, 403);
});

test('malformed HTTP does not crash the server', async () => {
  const raw = (text: string) =>
    new Promise<string>((resolve) => {
      const s = netConnect(gw.port, '127.0.0.1', () => s.end(text));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
  await raw('GARBAGE\r\n\r\n');
  await raw('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n');
  await raw('POST /1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab');
  await raw('\x00\x01\x02\x03');
  assert.equal((await http(`${gw.url}/version`)).status, 200);
});
