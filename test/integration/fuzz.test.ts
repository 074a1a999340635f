import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Errors, LunaError } from '../../src/errors.js';
import { validateHandshake } from '../../src/ws/handshake.js';
import { FIELDS } from '../../src/filters/fields.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { connect } from '../helpers/ws-client.js';
import { ACCOUNT, HANDLER, errorBody, http, publish, publishBody } from '../helpers/http.js';

/** mulberry32: a small seeded PRNG, so every failure reproduces. */
function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [...FIELDS.map((f) => f.name), 'luna_account_id', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'gender[]', 'a%00b'];
const PIECES = ['0', '1', '-1', '2', '50', '50.0', '1e1', '0.5', '1.', 'NaN', 'Infinity', '99999999999999999999', ',', ',,', ' ', '+', '%', '%2', '%zz', '%2C', '%E2%82%AC', '%FF', 'é', '💥', '\u0000', 'a', 'black', 'asian', 'spoof', 'origin_longitude', 'origin_latitude', 'longitude_delta', '180', '-180.5', '__proto__', '"', "'", '\\', '</script>', '${x}', ACCOUNT, 'x'.repeat(40)];
const ALLOWED_WS = new Set([400, 403]);

function randomQuery(r: () => number): string {
  const n = Math.floor(r() * 5);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = NAMES[Math.floor(r() * NAMES.length)];
    let value = '';
    const m = Math.floor(r() * 4);
    for (let k = 0; k <= m; k++) value += PIECES[Math.floor(r() * PIECES.length)];
    parts.push(r() < 0.1 ? name : `${name}=${value}`);
  }
  if (r() < 0.2) parts.push(String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(r() * 256))));
  return parts.join(r() < 0.9 ? '&' : '&&');
}

test('fuzz: 20000 seeded random queries never throw; each is a handshake or a documented 4xx', () => {
  const r = prng(20261127);
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    const query = randomQuery(r);
    const header = r() < 0.8 ? ACCOUNT : r() < 0.5 ? undefined : 'junk';
    let result: ReturnType<typeof validateHandshake>;
    try {
      result = validateHandshake({ query, accountHeader: header, requestIdHeader: undefined }, { maxQueryBytes: 8192, maxListItems: 100 });
    } catch (e) {
      assert.fail(`query ${JSON.stringify(query)} threw ${(e as Error).stack}`);
    }
    if (result instanceof LunaError) {
      assert.ok(ALLOWED_WS.has(result.status), `${query}: ${result.status}`);
      assert.ok([Errors.BadQueryOrHeader.code, Errors.Forbidden.code].includes(result.def.code as 12012 | 29001));
      assert.ok(result.detail.length > 0 && result.detail.length < 2000);
    } else accepted++;
  }
  assert.ok(accepted > 0, 'the generator never produced a valid query');
  // Prototype keys never leak into a filter.
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

let gw: Gateway;
before(async () => {
  gw = await startGateway({ SENDER_MAX_BODY_BYTES: '1048576' });
});
after(() => gw.stop());

test('fuzz: 300 random queries against the real server get 101 or a documented 4xx; the process stays healthy', async () => {
  const r = prng(7);
  for (let i = 0; i < 300; i++) {
    const query = encodeURI(randomQuery(r)).replace(/#/g, '%23');
    try {
      const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws?${query}`, { 'Luna-Account-Id': ACCOUNT });
      c.close();
    } catch (e) {
      const err = e as { status?: number; body?: string };
      if (err.status === undefined) continue; // the client itself refused the URL
      assert.ok(ALLOWED_WS.has(err.status), `${query}: ${err.status} ${err.body}`);
      assert.deepEqual(Object.keys(JSON.parse(err.body!)), ['error_code', 'desc', 'detail']);
    }
  }
  assert.equal((await http(`${gw.url}/version`)).status, 200);
});

function randomJson(r: () => number, depth: number): string {
  const k = Math.floor(r() * 9);
  if (depth > 4 || k < 3) {
    return ['0', '-0', '1e400', '123456789012345678901234567890', '1.5e-7', 'true', 'null', '"\\u0000"', '"💥"', '"\\ud800"', '"é\\n"'][Math.floor(r() * 11)];
  }
  if (k < 6) return `[${Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1)).join(',')}]`;
  const keys = ['__proto__', 'constructor', 'prototype', 'face_attributes', 'basic_attributes', 'age', 'gender', 'tags', 'location', 'a'];
  return `{${Array.from({ length: Math.floor(r() * 4) }, () => `"${keys[Math.floor(r() * keys.length)]}": ${randomJson(r, depth + 1)}`).join(', ')}}`;
}

test('fuzz: hostile publish bodies get 201 or a documented 4xx, never 500; accepted events arrive byte-exact', async () => {
  const r = prng(99);
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
  const sentEvents: string[] = [];
  const bodies: string[] = [
    '['.repeat(100000),
    '{"events": ' + '['.repeat(50000) + ']'.repeat(50000) + '}',
    '{"events": [' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '], "handler_id": "h", "event_create_time": "t", "event_end_time": "t"}',
    '{"__proto__": {"polluted": 1}, "events": [{}], "handler_id": "h", "event_create_time": "t", "event_end_time": "t"}',
    '\u0000\u0001\u0002',
    '{"events": [{}], "handler_id": "h", "event_create_time": "t", "event_end_time": "t", "events": 5}',
    Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('latin1'),
  ];
  for (let i = 0; i < 300; i++) {
    if (r() < 0.3) bodies.push(String.fromCharCode(...Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))));
    else {
      const events = Array.from({ length: 1 + Math.floor(r() * 3) }, () => (r() < 0.8 ? randomJson(r, 0).replace(/^[^{].*$/s, '{"x": 1}') : randomJson(r, 0)));
      bodies.push(`{"events": [${events.join(', ')}], "handler_id": "${HANDLER}", "event_create_time": "t", "event_end_time": "t"${r() < 0.1 ? ', "x": 1' : ''}}`);
    }
  }
  for (const body of bodies) {
    const a = await publish(gw.url, body);
    assert.ok([201, 400].includes(a.status), `${a.status} for ${body.slice(0, 80)}: ${a.text}`);
    if (a.status === 400) assert.ok([11027, 12002, 12030].includes(errorBody(a).error_code), a.text);
    else {
      const parsed = JSON.parse(body) as { events: unknown[] };
      // The bytes each subscriber must receive: the event text exactly as in the body.
      const inner = body.slice(body.indexOf('[') + 1, body.lastIndexOf('], "handler_id"'));
      if (parsed.events.length === 1) sentEvents.push(inner);
      else sentEvents.push(...Array(parsed.events.length).fill(''));
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  await publish(gw.url, publishBody([{ last: true }]));
  const msgs = await c.waitFor(sentEvents.length + 1);
  sentEvents.forEach((ev, i) => {
    if (ev !== '') assert.ok(msgs[i].startsWith(`{"event": ${ev}, "handler_id"`), `event ${i} not byte-exact:\n${ev}\n${msgs[i].slice(0, 200)}`);
  });
  c.close();
  assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
});
