import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, HANDLER, http, OTHER_ACCOUNT, publish, publishBody, REQUEST_ID } from '../helpers/http.js';
import { type Client, connect } from '../helpers/ws-client.js';

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw.stop());

const wsUrl = (query = '', api = 2) => `ws://127.0.0.1:${gw.port}/${api}/ws${query ? `?${query}` : ''}`;
const sub = (query = '', account = ACCOUNT, api = 2) => connect(wsUrl(query, api), { 'Luna-Account-Id': account });

async function refused(
  query: string,
  headers: Record<string, string> = { 'Luna-Account-Id': ACCOUNT },
): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  try {
    const c = await connect(wsUrl(query), headers);
    c.close();
  } catch (e) {
    const err = e as { status: number; body: string; headers: Record<string, unknown> };
    return { status: err.status, body: JSON.parse(err.body), headers: err.headers };
  }
  throw new Error(`upgrade with '${query}' was accepted`);
}

/** Publishing a marker that every subscriber of the account receives tells us all earlier events were processed. */
async function settle(clients: Client[], account = ACCOUNT): Promise<void> {
  const counts = clients.map((c) => c.messages.length);
  await publish(gw.url, publishBody([{ marker: true }]), { 'Luna-Account-Id': account });
  await Promise.all(clients.map((c, i) => c.waitFor(counts[i] + 1)));
}

test('a subscriber receives the event byte-exact, with the message envelope', async () => {
  const c = await sub();
  const event = '{"b": 1,  "a":18446744073709551615, "2":"x", "1": 1.50, "s":"\\u00e9\\n", "u":"ü"}';
  const body = `{"events": [${event}], "handler_id": "${HANDLER}", "event_create_time": "t1", "event_end_time": "t2"}`;
  const a = await publish(gw.url, body, { 'Luna-Request-Id': REQUEST_ID });
  assert.equal(a.status, 201);
  const [msg] = await c.waitFor(1);
  assert.equal(msg, `{"event": ${event}, "handler_id": "${HANDLER}", "event-create-time": "t1", "event-end-time": "t2", "Luna-Request-id": "${REQUEST_ID}"}`);
  c.close();
});

test('the 101 carries Luna-Request-Id (echoed when given)', async () => {
  const c = await connect(wsUrl(), { 'Luna-Account-Id': ACCOUNT, 'Luna-Request-Id': REQUEST_ID });
  c.close();
  // ws exposes the upgrade response through the 'upgrade' event; check with a raw request instead.
  const res = await new Promise<string>((resolve) => {
    import('node:net').then(({ connect: nc }) => {
      const s = nc(gw.port, '127.0.0.1', () =>
        s.write(
          `GET /1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nLuna-Account-Id: ${ACCOUNT}\r\nLuna-Request-Id: ${REQUEST_ID}\r\n\r\n`,
        ),
      );
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
    });
  });
  assert.match(res, /^HTTP\/1.1 101/);
  assert.match(res, new RegExp(`Luna-Request-Id: ${REQUEST_ID}`, 'i'));
});

test('events of one account never reach another account, even with equal filters', async () => {
  const mine = await sub('gender=1');
  const theirs = await sub('gender=1', OTHER_ACCOUNT);
  await publish(gw.url, publishBody([{ face_attributes: { basic_attributes: { gender: 1 } }, n: 1 }]));
  await publish(gw.url, publishBody([{ face_attributes: { basic_attributes: { gender: 1 } }, n: 2 }]), { 'Luna-Account-Id': OTHER_ACCOUNT });
  await mine.waitFor(1);
  await theirs.waitFor(1);
  // A marker per account that passes the filter, published after: once each arrived, nothing else is on its way.
  const marker = publishBody([{ face_attributes: { basic_attributes: { gender: 1 } }, marker: true }]);
  await publish(gw.url, marker);
  await publish(gw.url, marker, { 'Luna-Account-Id': OTHER_ACCOUNT });
  await mine.waitFor(2);
  await theirs.waitFor(2);
  assert.equal(mine.messages.length, 2);
  assert.match(mine.messages[0], /"n": ?1|"n":1/);
  assert.match(mine.messages[1], /"marker":true/);
  assert.equal(theirs.messages.length, 2);
  assert.match(theirs.messages[0], /"n":2/);
  mine.close();
  theirs.close();
});

test('1000 events arrive in order, once each, on both api prefixes', async () => {
  const a = await sub('', ACCOUNT, 1);
  const b = await sub('', ACCOUNT, 2);
  for (let i = 0; i < 10; i++) {
    const events = Array.from({ length: 100 }, (_, j) => ({ seq: i * 100 + j }));
    assert.equal((await publish(gw.url, publishBody(events))).status, 201);
  }
  for (const c of [a, b]) {
    const msgs = await c.waitFor(1000);
    assert.deepEqual(
      msgs.map((m) => JSON.parse(m).event.seq),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  }
  await settle([a, b]);
  assert.equal(a.messages.length, 1001);
  a.close();
  b.close();
});

test('many subscribers with one filter share one topic: one predicate evaluation per event', async () => {
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await http(`${gw.url}/metrics`)).text)![1]);
  const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => sub(i % 2 ? 'age__gte=30&gender=1' : 'gender=1&age__gte=30')));
  assert.equal(await metric('luna_sender_distinct_filters'), 1);
  const before = await metric('luna_sender_predicate_evaluations_total');
  await publish(
    gw.url,
    publishBody([{ face_attributes: { basic_attributes: { gender: 1, age: 40 } } }, { face_attributes: { basic_attributes: { gender: 0, age: 40 } } }]),
  );
  await Promise.all(clients.map((c) => c.waitFor(1)));
  assert.equal((await metric('luna_sender_predicate_evaluations_total')) - before, 2);
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.closed));
  // The registry frees the topic with its last subscriber.
  for (let i = 0; i < 100 && (await metric('luna_sender_distinct_filters')) !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await metric('luna_sender_distinct_filters'), 0);
});

test('handshake errors are plain HTTP answers with LUNA codes', async () => {
  const noAccount = await refused('', {});
  assert.equal(noAccount.status, 403);
  assert.deepEqual(noAccount.body, { error_code: 29001, desc: 'Forbidden', detail: "Cannot subscribe for events without 'Luna-Account-Id' header set" });
  assert.equal((await refused('', { 'Luna-Account-Id': '' })).status, 403);
  const badAccount = await refused('', { 'Luna-Account-Id': 'nope' });
  assert.equal(badAccount.status, 400);
  assert.equal(badAccount.body.error_code, 12012);
  assert.equal((await refused(`luna_account_id=bad`)).status, 400);
  const rid = await refused('', { 'Luna-Account-Id': ACCOUNT, 'Luna-Request-Id': 'bad' });
  assert.equal(rid.status, 400);
  assert.match(rid.body.detail, /Luna-Request-Id/);
  const cases = [
    'gendr=1',
    'gender=1&gender=0',
    'gender=',
    'gender=2',
    'age__gte=50.0',
    'age__gte=50&age__lt=30',
    'sources=a,,b',
    'ethnic_groups=5',
    'stream_ids=x',
    `tags=${'x'.repeat(37)}`,
    'geo_position=origin_longitude,1',
  ];
  for (const q of cases) {
    const r = await refused(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error_code, 12012, q);
    const param = q.split('=')[0];
    assert.ok(r.body.detail.includes(param), `${q}: ${r.body.detail}`);
  }
  // Order: the account is reported before the query parameters.
  assert.equal((await refused('gendr=1', {})).status, 403);
});

test('luna_account_id in the query works; the header wins when both are valid', async () => {
  const q = await connect(wsUrl(`luna_account_id=${OTHER_ACCOUNT}`));
  const both = await connect(wsUrl(`luna_account_id=${OTHER_ACCOUNT}`), { 'Luna-Account-Id': ACCOUNT });
  await publish(gw.url, publishBody([{ to: 'other' }]), { 'Luna-Account-Id': OTHER_ACCOUNT });
  await publish(gw.url, publishBody([{ to: 'mine' }]));
  await q.waitFor(1);
  await both.waitFor(1);
  assert.match(q.messages[0], /"to":"other"/);
  assert.match(both.messages[0], /"to":"mine"/);
  q.close();
  both.close();
});

test('client frames are ignored; one over the cap closes the connection (uWS: no close frame, 1006)', async () => {
  const c = await sub();
  c.ws.send('hello');
  await settle([c]);
  c.ws.send('x'.repeat(16385));
  const { code } = await c.closed;
  assert.equal(code, 1006);
});

test('regression: the 101 selects no subprotocol the gateway does not speak (was: echoed the offer)', async () => {
  const { request } = await import('node:http');
  const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = request(`${gw.url}/2/ws`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': 'chat, superchat',
        'Luna-Account-Id': ACCOUNT,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers);
    });
    req.on('response', (res) => reject(new Error(`HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  assert.equal(headers['sec-websocket-protocol'], undefined);
  assert.ok(headers['luna-request-id']);
});
