import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, http, publish, publishBody } from '../helpers/http.js';
import { rawWs } from '../helpers/raw-ws.js';
import { withTimeout } from '../helpers/timeout.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/ws-client.js';

// One gateway with every limit set small, so each can be tested at and past its edge.
const gwP = startGateway({
  SENDER_MAX_CONNECTIONS: '4',
  SENDER_MAX_QUERY_BYTES: '256',
  SENDER_MAX_LIST_ITEMS: '3',
  SENDER_MAX_BODY_BYTES: '2048',
  SENDER_MAX_EVENTS_PER_PUBLISH: '3',
  SENDER_MAX_INBOUND_FRAME: '200',
  SENDER_MAX_BACKPRESSURE: '65536',
});
let gw: Gateway;
after(async () => (await gwP).stop());

const wsUrl = (q = '') => `ws://127.0.0.1:${gw.port}/2/ws${q ? `?${q}` : ''}`;
async function status(q: string): Promise<{ status: number; body?: any }> {
  try {
    const c = await connect(wsUrl(q), { 'Luna-Account-Id': ACCOUNT });
    c.close();
    await c.closed;
    return { status: 101 };
  } catch (e) {
    const err = e as { status: number; body: string };
    return { status: err.status, body: JSON.parse(err.body) };
  }
}

before(async () => {
  gw = await gwP;
});

test('SENDER_MAX_QUERY_BYTES: at the limit accepted, one byte past refused with 12012', async () => {
  const base = 'user_data=';
  assert.equal((await status(base + 'a'.repeat(256 - base.length))).status, 101);
  const past = await status(base + 'a'.repeat(257 - base.length));
  assert.equal(past.status, 400);
  assert.equal(past.body.error_code, 12012);
  assert.match(past.body.detail, /256 bytes/);
});

test('SENDER_MAX_LIST_ITEMS: 3 items accepted, 4 refused', async () => {
  assert.equal((await status('sources=a,b,c')).status, 101);
  const past = await status('sources=a,b,c,d');
  assert.equal(past.status, 400);
  assert.match(past.body.detail, /sources/);
});

test('SENDER_MAX_BODY_BYTES: a body of exactly the limit is read, one byte more is 413', async () => {
  const fill = (n: number) => {
    const b = publishBody([{ pad: '' }]);
    return publishBody([{ pad: 'x'.repeat(n - b.length) }]);
  };
  assert.equal(Buffer.byteLength(fill(2048)), 2048);
  assert.equal((await publish(gw.url, fill(2048))).status, 201);
  const past = await publish(gw.url, fill(2049));
  assert.equal(past.status, 413);
  assert.equal(errorBody(past).error_code, 12040);
  assert.equal((await http(`${gw.url}/version`)).status, 200);
});

test('SENDER_MAX_EVENTS_PER_PUBLISH: 3 events accepted, 4 refused with 11027', async () => {
  assert.equal((await publish(gw.url, publishBody([{}, {}, {}]))).status, 201);
  const past = await publish(gw.url, publishBody([{}, {}, {}, {}]));
  assert.equal(past.status, 400);
  assert.equal(errorBody(past).error_code, 11027);
  assert.match(errorBody(past).detail, /Path: 'events', message: 'ensure this value has at most 3 items'/);
});

// uWS 20.30 enforces maxPayloadLength (= SENDER_MAX_INBOUND_FRAME) by closing the TCP connection
// without a close frame: the client sees 1006, for a single frame and a fragment sequence alike.
test('SENDER_MAX_INBOUND_FRAME: a 200-byte frame is ignored, 201 bytes close the connection (1006)', async () => {
  const c = await connect(wsUrl(), { 'Luna-Account-Id': ACCOUNT });
  c.ws.send('x'.repeat(200));
  await publish(gw.url, publishBody([{ alive: 1 }]));
  await c.waitFor(1);
  c.ws.send('x'.repeat(201));
  assert.equal((await c.closed).code, 1006);
});

test('regression: an unfinished fragmented message past SENDER_MAX_INBOUND_FRAME closes the socket (was: held up to 1 MiB)', async () => {
  // Fragments of 100 bytes without FIN: 200 bytes are within the cap and the socket stays open
  // (a sentinel event arrives after them); the third fragment passes it and the socket is closed.
  const raw = await rawWs(gw.port, '/2/ws', { 'Luna-Account-Id': ACCOUNT });
  raw.sendFrame(0x1, Buffer.alloc(100, 0x78), false);
  raw.sendFrame(0x0, Buffer.alloc(100, 0x78), false);
  let got = 0;
  const sentinel = raw.readUntilClose(20000, () => got++);
  await publish(gw.url, publishBody([{ sentinel: 1 }]));
  await waitFor(() => got === 1, 'the sentinel');
  raw.sendFrame(0x0, Buffer.alloc(100, 0x78), false);
  const end = await sentinel;
  assert.equal(end.messages, 1, 'the sentinel arrived before the close');
  assert.equal(end.code, 1006, 'closed by uWS without a close frame');
  // And a fragment sequence whose very first frame is over the cap.
  const first = await rawWs(gw.port, '/2/ws', { 'Luna-Account-Id': ACCOUNT });
  first.sendFrame(0x1, Buffer.alloc(201, 0x78), false);
  assert.equal((await first.readUntilClose(20000)).code, 1006);
});

test('SENDER_MAX_CONNECTIONS: the 5th upgrade gets 503/29006; a freed slot is usable again', async () => {
  const held = await Promise.all(Array.from({ length: 4 }, () => connect(wsUrl(), { 'Luna-Account-Id': ACCOUNT })));
  const past = await status('');
  assert.equal(past.status, 503);
  assert.equal(past.body.error_code, 29006);
  held[0].close();
  await held[0].closed;
  assert.equal((await status('')).status, 101);
  for (const c of held.slice(1)) c.close();
  await Promise.all(held.map((c) => c.closed));
});

test('slow consumer: closed with 4008 past SENDER_MAX_BACKPRESSURE, a fast subscriber gets everything', async () => {
  // Its own gateway: big events are needed to get past the kernel's socket buffers quickly.
  const big = await startGateway({ SENDER_MAX_BACKPRESSURE: '65536' });
  try {
    const url = `ws://127.0.0.1:${big.port}/2/ws`;
    // The slow socket never reads: the kernel buffers fill, then uWS buffers for it.
    const slow = await rawWs(big.port, '/2/ws', { 'Luna-Account-Id': ACCOUNT });
    const fast = await connect(url, { 'Luna-Account-Id': ACCOUNT });
    const metric = async () => Number(/^luna_sender_slow_consumer_closes_total (\d+)$/m.exec((await http(`${big.url}/metrics`)).text)![1]);
    let sent = 0;
    // Bounded: at most 400 publishes of 4 x 64 KB; stop once the close is counted.
    for (let i = 0; i < 400 && (await metric()) === 0; i++) {
      const events = [0, 1, 2, 3].map((k) => ({ seq: sent + k, pad: 'y'.repeat(65536) }));
      assert.equal((await publish(big.url, publishBody(events))).status, 201);
      sent += 4;
      // Let the fast subscriber keep up (and the sweep run) between publishes.
      await fast.waitFor(sent, 20000);
    }
    assert.equal(await metric(), 1, 'the slow consumer was never closed');
    const closed = await slow.readUntilClose();
    assert.equal(closed.code, 4008);
    assert.equal(closed.reason, 'slow consumer');
    const msgs = await fast.waitFor(sent, 20000);
    assert.deepEqual(
      msgs.map((m) => JSON.parse(m).event.seq),
      Array.from({ length: sent }, (_, i) => i),
    );
    fast.close();
  } finally {
    await big.stop();
  }
});

test('a connection that never completes its request is closed by the server (uWS HTTP idle timeout)', async () => {
  const s = netConnect(gw.port, '127.0.0.1', () => s.write('GET /2/ws HTTP/1.1\r\nHost: x\r\n'));
  s.on('error', () => undefined);
  try {
    // uWS's own timeout: 10 s in 20.30, about 30 s in 20.57 (the Node 22/24 build); a deadline, not a timing check.
    await withTimeout(new Promise((resolve) => s.on('close', resolve)), 60000, 'the server closing a half-sent request');
  } finally {
    s.destroy();
  }
});

test('SENDER_PING_INTERVAL: a silent socket is pinged, and closed when it never answers', async () => {
  const quick = await startGateway({ SENDER_PING_INTERVAL: '4' });
  try {
    // The raw client never answers pings (the ws library would, automatically).
    const silent = await rawWs(quick.port, '/2/ws', { 'Luna-Account-Id': ACCOUNT });
    const end = await silent.readUntilClose(60000);
    assert.ok(end.pings >= 1, 'no ping was sent');
    assert.notEqual(end.code, -1, 'the unanswering socket was never closed');
  } finally {
    await quick.stop();
  }
});
