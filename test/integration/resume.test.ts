import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, OTHER_ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { rawWs } from '../helpers/raw-ws.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { type Client, connect, type HttpError } from '../helpers/ws-client.js';

/**
 * Positions and resume (SPEC 9) on the in-process bus: Luna-Stream-Position on every 101,
 * positions=1 frames, resume replaying exactly what an uninterrupted twin received, refusals.
 * "Nothing more arrived" is always decided by a sentinel event that every subscriber receives.
 */
const TOKEN = /^[A-Za-z0-9_-]{1,64}:[0-9]{1,20}-[0-9]{1,20}$/;

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw.stop());

const wsUrl = (g: Gateway, query: string) => `ws://127.0.0.1:${g.port}/2/ws${query ? `?${query}` : ''}`;
const sub = (query = '', account = ACCOUNT, g = gw) => connect(wsUrl(g, query), { 'Luna-Account-Id': account });
const streamPosition = (c: Client) => String(c.headers['luna-stream-position']);
/** The position of a positions=1 frame: its last key. */
const positionOf = (frame: string) => (JSON.parse(frame) as { position: string }).position;

let n = 0;
/** Publishes `count` events (one request each), numbered, alternating gender 0/1. */
async function publishEvents(count: number, account = ACCOUNT, g = gw): Promise<void> {
  for (let i = 0; i < count; i++) {
    const k = n++;
    const a = await publish(g.url, publishBody([{ k, face_attributes: { basic_attributes: { gender: k % 2 } } }]), { 'Luna-Account-Id': account });
    assert.equal(a.status, 201, a.text);
  }
}

/** A sentinel (gender 1 unless told) that `clients` all receive; resolves once each has it. */
async function sentinel(clients: Client[], account = ACCOUNT, g = gw, gender = 1): Promise<void> {
  const mark = `s${n++}`;
  const a = await publish(g.url, publishBody([{ sentinel: mark, face_attributes: { basic_attributes: { gender } } }]), { 'Luna-Account-Id': account });
  assert.equal(a.status, 201);
  await Promise.all(
    clients.map(async (c) => {
      for (;;) {
        if (c.messages.some((m) => m.includes(`"sentinel":"${mark}"`))) return;
        await c.waitFor(c.messages.length + 1);
      }
    }),
  );
}

/** The HTTP answer to an upgrade that must be refused (a 101 fails the test). */
async function refusedWith(query: string, account = ACCOUNT, g = gw): Promise<{ status: number; body: { error_code: number; detail: string } }> {
  let c: Client;
  try {
    c = await sub(query, account, g);
  } catch (e) {
    const err = e as HttpError;
    const body = JSON.parse(err.body);
    assert.deepEqual(Object.keys(body), ['error_code', 'desc', 'detail']);
    return { status: err.status, body };
  }
  c.close();
  throw new Error(`upgrade with '${query}' was accepted`);
}

describe('positions', () => {
  test('every 101 carries Luna-Stream-Position; positions=1 frames end with the position, others are unchanged', async () => {
    const plain = await sub();
    const positioned = await sub('positions=1');
    assert.match(streamPosition(plain), TOKEN);
    assert.equal(streamPosition(plain).split(':')[0], streamPosition(positioned).split(':')[0]);
    await publishEvents(3);
    await sentinel([plain, positioned]);
    assert.equal(plain.messages.length, positioned.messages.length);
    for (let i = 0; i < plain.messages.length; i++) {
      const p = positioned.messages[i];
      const pos = positionOf(p);
      assert.match(pos, TOKEN);
      // The same bytes with one last key: `, "position": "<token>"` before the closing brace.
      assert.equal(p, `${plain.messages[i].slice(0, -1)}, "position": ${JSON.stringify(pos)}}`);
      assert.ok(!plain.messages[i].includes('"position"'));
    }
    // Strictly increasing positions, all after the 101's position.
    const ids = positioned.messages.map((m) => positionOf(m).split(':')[1].split('-').map(Number));
    const start = streamPosition(positioned).split(':')[1].split('-').map(Number);
    for (const [i, [ms, seq]] of ids.entries()) {
      const [pms, pseq] = i === 0 ? start : ids[i - 1];
      assert.ok(ms > pms || (ms === pms && seq > pseq), `position ${i} increases`);
    }
    plain.close();
    positioned.close();
  });

  test('a subscriber receives every event after its Luna-Stream-Position and none before', async () => {
    await publishEvents(2);
    const c = await sub('positions=1');
    const [sms, sseq] = streamPosition(c).split(':')[1].split('-').map(Number);
    await publishEvents(2);
    await sentinel([c]);
    assert.equal(c.messages.length, 3);
    for (const m of c.messages) {
      const [ms, seq] = positionOf(m).split(':')[1].split('-').map(Number);
      assert.ok(ms > sms || (ms === sms && seq > sseq));
    }
    c.close();
  });

  test('positions with another value than 1 is a 400 (12012)', async () => {
    for (const v of ['0', 'true', '2']) {
      const r = await refusedWith(`positions=${v}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.error_code, 12012);
      assert.match(r.body.detail, /positions/);
    }
  });
});

describe('resume', () => {
  test('a resumed subscriber receives exactly what an uninterrupted twin received: no gap, no duplicate, byte-identical', async () => {
    const twin = await sub('positions=1&gender=1');
    const first = await sub('positions=1&gender=1');
    await publishEvents(6);
    await sentinel([twin, first]);
    const seen = [...first.messages];
    first.close();
    await first.closed;
    await publishEvents(7);
    const resumed = await sub(`gender=1&resume=${encodeURIComponent(positionOf(seen[seen.length - 1]))}`);
    assert.equal(streamPosition(resumed), positionOf(seen[seen.length - 1]), 'the 101 names the resume position');
    await publishEvents(5);
    await sentinel([twin, resumed]);
    assert.deepEqual([...seen, ...resumed.messages], twin.messages);
    twin.close();
    resumed.close();
  });

  test('events published during the resume handshake are neither lost nor doubled', async () => {
    const twin = await sub('positions=1');
    const first = await sub('positions=1');
    await publishEvents(3);
    await sentinel([twin, first]);
    const seen = [...first.messages];
    first.close();
    await first.closed;
    // Publish continuously while a series of resumes happen.
    let publishing = true;
    const load = (async () => {
      while (publishing) await publishEvents(1);
    })();
    let last = positionOf(seen[seen.length - 1]);
    const got: string[] = [...seen];
    for (let round = 0; round < 5; round++) {
      const c = await sub(`resume=${encodeURIComponent(last)}`);
      await c.waitFor(1);
      c.close();
      await c.closed;
      got.push(...c.messages);
      last = positionOf(got[got.length - 1]);
    }
    publishing = false;
    await load;
    const final = await sub(`resume=${encodeURIComponent(last)}`);
    await sentinel([twin, final]);
    got.push(...final.messages);
    assert.deepEqual(got, twin.messages);
    twin.close();
    final.close();
  });

  test('replay keeps account isolation and the filter', async () => {
    const twin = await sub('positions=1&gender=0');
    const start = streamPosition(twin);
    await publishEvents(4);
    await publishEvents(3, OTHER_ACCOUNT);
    await sentinel([twin], ACCOUNT, gw, 0);
    const resumed = await sub(`gender=0&resume=${encodeURIComponent(start)}`);
    await sentinel([twin, resumed], ACCOUNT, gw, 0);
    assert.deepEqual(resumed.messages, twin.messages);
    for (const m of resumed.messages) assert.equal(JSON.parse(m).event.face_attributes.basic_attributes.gender, 0);
    twin.close();
    resumed.close();
  });

  test('refusals before the 101: malformed token 400, foreign epoch, ahead of the stream', async () => {
    const c = await sub('positions=1');
    const [epoch, id] = streamPosition(c).split(':');
    c.close();
    for (const bad of ['x', `${epoch}:12`, `${epoch}:-1-0`, `${'e'.repeat(65)}:1-0`, `${epoch}:1-0-0`]) {
      const r = await refusedWith(`resume=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error_code, 12012);
      assert.match(r.body.detail, /resume/);
    }
    const cases: [string, RegExp][] = [
      [`other${epoch.slice(5)}:${id}`, /epoch changed/],
      [`${epoch}:${Date.now() + 3_600_000}-0`, /position ahead of the stream/],
    ];
    await publishEvents(1);
    for (const [token, why] of cases) {
      const r = await refusedWith(`resume=${encodeURIComponent(token)}`);
      assert.equal(r.status, 410, token);
      assert.equal(r.body.error_code, 29010);
      assert.match(r.body.detail, why);
    }
  });

  test('the window counts from the first missed event: older than SENDER_RESUME_WINDOW is refused', async () => {
    const g = await startGateway({ SENDER_RESUME_WINDOW: '1' });
    try {
      const c = await sub('positions=1', ACCOUNT, g);
      const token = streamPosition(c);
      await publishEvents(1, ACCOUNT, g);
      await sentinel([c], ACCOUNT, g);
      // Real time has to pass for an event to age past the window; nothing is measured.
      await new Promise((r) => setTimeout(r, 1100));
      const r = await refusedWith(`resume=${encodeURIComponent(token)}`, ACCOUNT, g);
      assert.equal(r.status, 410);
      assert.match(r.body.detail, /position no longer retained/);
      // The last frame's position has nothing after it: still resumable, however old.
      const last = await sub(`resume=${encodeURIComponent(positionOf(c.messages[c.messages.length - 1]))}`, ACCOUNT, g);
      await sentinel([c, last], ACCOUNT, g);
      assert.equal(last.messages.length, 1, 'only the new sentinel');
      c.close();
      last.close();
    } finally {
      await g.stop();
    }
  });

  test('a quiet subscriber (its filter rarely matches) resumes an old position when it missed nothing, even with other events after it', async () => {
    const g = await startGateway({ SENDER_RESUME_WINDOW: '1' });
    try {
      const quiet = await sub('positions=1&gender=1', ACCOUNT, g);
      await sentinel([quiet], ACCOUNT, g);
      const token = positionOf(quiet.messages[0]);
      quiet.close();
      // Only events it does not want, then real time past the window (nothing is measured).
      await publishEvents(1, OTHER_ACCOUNT, g);
      await new Promise((r) => setTimeout(r, 1100));
      await publishEvents(2, OTHER_ACCOUNT, g);
      const resumed = await sub(`gender=1&resume=${encodeURIComponent(token)}`, ACCOUNT, g);
      await sentinel([resumed], ACCOUNT, g);
      assert.equal(resumed.messages.length, 1, 'nothing missed, then the new sentinel');
      resumed.close();
    } finally {
      await g.stop();
    }
  });

  test('regression: the position of an empty stream (<epoch>:0-0) resumes (was refused as older than the window)', async () => {
    const g = await startGateway();
    try {
      const twin = await sub('positions=1', ACCOUNT, g);
      const token = streamPosition(twin);
      assert.match(token, /:0-0$/);
      await publishEvents(3, ACCOUNT, g);
      await sentinel([twin], ACCOUNT, g);
      const resumed = await sub(`resume=${encodeURIComponent(token)}`, ACCOUNT, g);
      await sentinel([twin, resumed], ACCOUNT, g);
      assert.deepEqual(resumed.messages, twin.messages);
      twin.close();
      resumed.close();
    } finally {
      await g.stop();
    }
  });

  test('resume beside another bad parameter: the other one is reported', async () => {
    const r = await refusedWith('resume=nonsense&gender=7');
    assert.equal(r.status, 400);
    assert.match(r.body.detail, /gender/);
    const r2 = await refusedWith('gender=1&resume=x:1-0');
    assert.equal(r2.status, 410, 'a well-formed token of another epoch is checked last');
  });

  test('resume on the in-process bus after a restart: the epoch changed (410)', async () => {
    const old = await startGateway();
    const c = await sub('positions=1', ACCOUNT, old);
    const token = streamPosition(c);
    c.close();
    await old.stop();
    const restarted = await startGateway();
    try {
      const r = await refusedWith(`resume=${encodeURIComponent(token)}`, ACCOUNT, restarted);
      assert.equal(r.status, 410);
      assert.match(r.body.detail, /epoch changed/);
    } finally {
      await restarted.stop();
    }
  });

  test('a position the history no longer holds (byte bound) is refused, never partly replayed', async () => {
    const small = await startGateway({ SENDER_RESUME_HISTORY_BYTES: '2000' });
    try {
      const c = await sub('positions=1', ACCOUNT, small);
      const token = streamPosition(c);
      await publishEvents(20, ACCOUNT, small);
      await sentinel([c], ACCOUNT, small);
      c.close();
      const r = await refusedWith(`resume=${encodeURIComponent(token)}`, ACCOUNT, small);
      assert.equal(r.status, 410);
      assert.match(r.body.detail, /position no longer retained/);
      // A recent position is still held and replays.
      const recent = positionOf(c.messages[c.messages.length - 3]);
      const resumed = await sub(`resume=${encodeURIComponent(recent)}`, ACCOUNT, small);
      await sentinel([resumed], ACCOUNT, small);
      assert.deepEqual(resumed.messages.slice(0, -1), c.messages.slice(-2));
      resumed.close();
    } finally {
      await small.stop();
    }
  });
});

describe('resume on the Redis bus', () => {
  let redis: TestRedis;
  const gateways: Gateway[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const g = await startGateway({ REDIS_URL: redis.url, ...env });
    gateways.push(g);
    return g;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const g of gateways) await g.stop();
    await redis.stop();
  });

  test('positions are global: a subscriber of one worker resumes on another, exactly as its twin', async () => {
    const a = await start();
    const b = await start();
    const twin = await sub('positions=1', ACCOUNT, a);
    const first = await sub('positions=1', ACCOUNT, a);
    await publishEvents(5, ACCOUNT, a);
    await sentinel([twin, first], ACCOUNT, a);
    const seen = [...first.messages];
    first.close();
    await first.closed;
    await publishEvents(4, ACCOUNT, b);
    const resumed = await sub(`resume=${encodeURIComponent(positionOf(seen[seen.length - 1]))}`, ACCOUNT, b);
    await publishEvents(3, ACCOUNT, a);
    await sentinel([twin, resumed], ACCOUNT, b);
    assert.deepEqual([...seen, ...resumed.messages], twin.messages);
    twin.close();
    resumed.close();
  });

  test('a worker started after the events replays them (preloaded from the stream), also for a position older than its start', async () => {
    const a = await start();
    const twin = await sub('positions=1&gender=1', ACCOUNT, a);
    const token = streamPosition(twin);
    await publishEvents(6, ACCOUNT, a);
    await sentinel([twin], ACCOUNT, a);
    const late = await start();
    const resumed = await sub(`gender=1&resume=${encodeURIComponent(token)}`, ACCOUNT, late);
    await sentinel([twin, resumed], ACCOUNT, a);
    assert.deepEqual(resumed.messages, twin.messages);
    // With no history at all the stream itself serves the replay (one XRANGE for this resume).
    const bare = await start({ SENDER_RESUME_HISTORY_BYTES: '0' });
    const fromStream = await sub(`gender=1&resume=${encodeURIComponent(token)}`, ACCOUNT, bare);
    await sentinel([twin, fromStream], ACCOUNT, a);
    assert.deepEqual(fromStream.messages, twin.messages);
    twin.close();
    resumed.close();
    fromStream.close();
  });

  test('a subscriber closed with 4008 (slow consumer) resumes from its last frame and misses nothing', async () => {
    const g = await start({ SENDER_MAX_BACKPRESSURE: '65536' });
    const twin = await sub('positions=1', ACCOUNT, g);
    const slow = await rawWs(g.port, '/2/ws?positions=1', { 'Luna-Account-Id': ACCOUNT });
    // Bounded: at most 400 publishes of 4 x 64 KB; stop once the slow socket was closed.
    const closes = async () => Number(/^luna_sender_slow_consumer_closes_total (\d+)$/m.exec((await http(`${g.url}/metrics`)).text)![1]);
    for (let i = 0; i < 400 && (await closes()) === 0; i++) {
      const events = [0, 1, 2, 3].map((k) => ({ k: n++, pad: 'y'.repeat(65536), i, j: k }));
      assert.equal((await publish(g.url, publishBody(events))).status, 201);
      await twin.waitFor(4 * (i + 1), 20000);
    }
    assert.equal(await closes(), 1, 'the slow consumer was never closed');
    const got: string[] = [];
    const end = await slow.readUntilClose(30000, (p) => got.push(p.toString()));
    assert.equal(end.code, 4008);
    const resumed = await sub(`resume=${encodeURIComponent(positionOf(got[got.length - 1]))}`, ACCOUNT, g);
    await sentinel([twin, resumed], ACCOUNT, g);
    assert.deepEqual([...got, ...resumed.messages], twin.messages);
    twin.close();
    resumed.close();
  });
});
