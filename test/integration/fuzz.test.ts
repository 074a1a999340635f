import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Errors, LunaError } from '../../src/errors.js';
import { FIELDS } from '../../src/filters/fields.js';
import { validateHandshake } from '../../src/ws/handshake.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, HANDLER, http, publish, publishBody } from '../helpers/http.js';
import { prng } from '../helpers/prng.js';
import { connect } from '../helpers/ws-client.js';

const NAMES = [...FIELDS.map((f) => f.name), 'luna_account_id', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'gender[]', 'a%00b'];
const PIECES = [
  '0',
  '1',
  '-1',
  '2',
  '50',
  '50.0',
  '1e1',
  '0.5',
  '1.',
  'NaN',
  'Infinity',
  '99999999999999999999',
  ',',
  ',,',
  ' ',
  '+',
  '%',
  '%2',
  '%zz',
  '%2C',
  '%E2%82%AC',
  '%FF',
  'é',
  '💥',
  '\u0000',
  'a',
  'black',
  'asian',
  'spoof',
  'origin_longitude',
  'origin_latitude',
  'longitude_delta',
  '180',
  '-180.5',
  '__proto__',
  '"',
  "'",
  '\\',
  '</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal '${x}' is the hostile input
  '${x}',
  ACCOUNT,
  'x'.repeat(40),
];
const ALLOWED_WS = new Set([400, 403]);

/**
 * Prototype pollution shows as a new own property of a shared prototype. The gateway runs in this
 * process, so what it pollutes, this process sees.
 */
const PROTOTYPES = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype };
const protoNames = () => Object.entries(PROTOTYPES).map(([n, p]) => `${n}: ${Reflect.ownKeys(p).map(String).sort().join(',')}`);
const CLEAN = protoNames();
function assertNotPolluted(): void {
  assert.deepEqual(protoNames(), CLEAN, 'a shared prototype gained a property');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

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
  assertNotPolluted();
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

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
type ProtoKey = (typeof PROTO_KEYS)[number];
/**
 * What each key carries so that a naive deep merge or `obj[k1][k2] = v` walk would reach a shared
 * prototype: `x.__proto__.polluted`, `x.constructor.prototype.polluted`, `F.prototype.polluted`.
 */
const POLLUTING: Record<ProtoKey, string> = {
  __proto__: '{"polluted": 1, "toString": null}',
  constructor: '{"prototype": {"polluted": 1}, "polluted": 1}',
  prototype: '{"polluted": 1}',
};

function randomJson(r: () => number, depth: number): string {
  const k = Math.floor(r() * 9);
  if (depth > 4 || k < 3) {
    return ['0', '-0', '1e400', '123456789012345678901234567890', '1.5e-7', 'true', 'null', '"\\u0000"', '"💥"', '"\\ud800"', '"é\\n"'][Math.floor(r() * 11)];
  }
  if (k < 6) return `[${Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1)).join(',')}]`;
  const keys = ['__proto__', 'constructor', 'prototype', 'face_attributes', 'basic_attributes', 'age', 'gender', 'tags', 'location', 'a'];
  const members = Array.from({ length: Math.floor(r() * 4) }, () => `"${keys[Math.floor(r() * keys.length)]}": ${randomJson(r, depth + 1)}`);
  // A prototype key with a polluting value, at this depth, in a random place among the members.
  if (r() < 0.3) {
    const key = PROTO_KEYS[Math.floor(r() * PROTO_KEYS.length)];
    members.splice(Math.floor(r() * (members.length + 1)), 0, `"${key}": ${POLLUTING[key]}`);
  }
  return `{${members.join(', ')}}`;
}

/** Prototype keys in a parsed body, as "key@depth" (depth 0: an own key of an event; -1: of the body). */
function protoKeysIn(body: unknown): string[] {
  const found: string[] = [];
  // `nest` counts arrays too: the generator nests 6 deep at most, the fixed bodies 50000.
  const walk = (v: unknown, depth: number, nest: number) => {
    if (typeof v !== 'object' || v === null || nest > 10) return;
    for (const [k, child] of Object.entries(v)) {
      if (!Array.isArray(v) && (PROTO_KEYS as readonly string[]).includes(k)) found.push(`${k}@${Math.min(depth, 2)}`);
      walk(child, Array.isArray(v) ? depth : depth + 1, nest + 1);
    }
  };
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    for (const [k, v] of Object.entries(body)) {
      if ((PROTO_KEYS as readonly string[]).includes(k)) found.push(`${k}@-1`);
      if (k === 'events' && Array.isArray(v)) for (const ev of v) walk(ev, 0, 0);
    }
  }
  return found;
}

test('fuzz: hostile publish bodies (prototype keys at every depth among them) get 201 or a documented 4xx, never 500, pollute nothing; accepted events arrive byte-exact', async (t) => {
  const r = prng(99);
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
  const sentEvents: string[] = [];
  const bodies: string[] = [
    '['.repeat(100000),
    `{"events": ${'['.repeat(50000)}${']'.repeat(50000)}}`,
    `{"events": [${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}], "handler_id": "h", "event_create_time": "t", "event_end_time": "t"}`,
    '{"__proto__": {"polluted": 1}, "events": [{}], "handler_id": "h", "event_create_time": "t", "event_end_time": "t"}',
    '\u0000\u0001\u0002',
    '{"events": [{}], "handler_id": "h", "event_create_time": "t", "event_end_time": "t", "events": 5}',
    Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('latin1'),
  ];
  for (let i = 0; i < 300; i++) {
    if (r() < 0.3) bodies.push(String.fromCharCode(...Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))));
    else {
      const events = Array.from({ length: 1 + Math.floor(r() * 3) }, () => (r() < 0.8 ? randomJson(r, 0).replace(/^[^{].*$/s, '{"x": 1}') : randomJson(r, 0)));
      const extra = r() < 0.1 ? ', "x": 1' : r() < 0.1 ? `, "${PROTO_KEYS[Math.floor(r() * 3)]}": ${POLLUTING.constructor}` : '';
      bodies.push(`{"events": [${events.join(', ')}], "handler_id": "${HANDLER}", "event_create_time": "t", "event_end_time": "t"${extra}}`);
    }
  }
  // "key@depth" -> how many bodies carrying it were accepted and refused.
  const protoSeen = new Map<string, { accepted: number; refused: number }>();
  for (const body of bodies) {
    const a = await publish(gw.url, body);
    assert.ok([201, 400].includes(a.status), `${a.status} for ${body.slice(0, 80)}: ${a.text}`);
    if (a.status === 400) assert.ok([11027, 12002, 12030].includes(errorBody(a).error_code), a.text);
    let parsedBody: unknown;
    try {
      parsedBody = JSON.parse(body);
    } catch {
      // not JSON: no keys to count
    }
    for (const key of new Set(protoKeysIn(parsedBody))) {
      const n = protoSeen.get(key) ?? { accepted: 0, refused: 0 };
      if (a.status === 201) n.accepted++;
      else n.refused++;
      protoSeen.set(key, n);
    }
    assertNotPolluted();
    if (a.status === 201) {
      const parsed = JSON.parse(body) as { events: unknown[] };
      // The bytes each subscriber must receive: the event text exactly as in the body.
      const inner = body.slice(body.indexOf('[') + 1, body.lastIndexOf('], "handler_id"'));
      if (parsed.events.length === 1) sentEvents.push(inner);
      else sentEvents.push(...Array(parsed.events.length).fill(''));
    }
  }
  // The check above is reachable: every prototype key was sent and accepted at depths 0, 1 and
  // deeper inside events, and sent beside `events` (where the schema refuses it with 11027).
  const seen = (key: string) => protoSeen.get(key) ?? { accepted: 0, refused: 0 };
  for (const key of PROTO_KEYS) {
    for (const depth of [0, 1, 2]) assert.ok(seen(`${key}@${depth}`).accepted >= 3, `${key}@${depth}: ${JSON.stringify(seen(`${key}@${depth}`))}`);
    assert.ok(seen(`${key}@-1`).refused >= 1, `${key} beside events: ${JSON.stringify(seen(`${key}@-1`))}`);
  }
  await publish(gw.url, publishBody([{ last: true }]));
  // The sentinel arrives last: every accepted event came before it, nothing else did.
  const msgs = await c.waitFor(sentEvents.length + 1);
  assert.match(msgs[sentEvents.length], /^\{"event": ?\{"last": ?true\}/);
  sentEvents.forEach((ev, i) => {
    if (ev !== '') assert.ok(msgs[i].startsWith(`{"event": ${ev}, "handler_id"`), `event ${i} not byte-exact:\n${ev}\n${msgs[i].slice(0, 200)}`);
  });
  c.close();
  assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
  t.diagnostic(
    `prototype keys sent (key@depth: accepted/refused): ${[...protoSeen]
      .sort()
      .map(([k, n]) => `${k} ${n.accepted}/${n.refused}`)
      .join(', ')}`,
  );
});
