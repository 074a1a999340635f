import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseExposition, sample } from '../helpers/exposition.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { connect } from '../helpers/ws-client.js';

/**
 * Regression (found by probing): a stream deleted and recreated under a reader whose last id is
 * ahead of the new ids (old entries from a clock that was ahead, or Redis back empty on a host
 * whose clock is behind) made every publish answer 201 while nothing was delivered until the wall
 * clock passed the old last id. The reader must notice the reset, read the new stream from its
 * start in a new epoch, and count it.
 */
const KEY = 'luna-sender:events';
let redis: TestRedis;
let admin: Redis;
let gw: Gateway;

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  admin.on('error', () => {});
  gw = await startGateway({ REDIS_URL: redis.url });
});
after(async () => {
  await gw?.stop();
  admin?.disconnect();
  await redis?.stop();
});

async function resets(): Promise<number> {
  const a = await http(`${gw.url}/metrics`);
  return sample(parseExposition(a.text), 'luna_sender_stream_resets_total');
}

const frame = (label: string) => JSON.stringify({ event: { label }, handler_id: 'h', 'event-create-time': 't', 'event-end-time': 't', 'Luna-Request-id': 'r' });

test('regression: a stream deleted under a reader whose last id is ahead of the clock delivers new events at once (new epoch, counted reset)', async () => {
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
  try {
    const epochBefore = await admin.get(`${KEY}:epoch`);
    assert.match(epochBefore ?? '', /^[A-Za-z0-9_-]{12}$/, 'the reader created the epoch at start');
    assert.equal(await resets(), 0);
    // An entry one minute in the future (a third-party producer, or a clock that was ahead).
    await admin.xadd(KEY, `${Date.now() + 60000}-0`, 'a', ACCOUNT, 'f', frame('future'));
    const [first] = await c.waitFor(1);
    assert.match(first, /"label":"future"/);

    await admin.del(KEY);
    assert.equal((await publish(gw.url, publishBody([{ label: 'after-delete' }]))).status, 201);
    // Arrival decides; the reader notices after its next empty read (about 1 s), far inside the wait.
    const msgs = await c.waitFor(2, 10000);
    assert.match(msgs[1], /"label":"after-delete"/);
    assert.equal(await resets(), 1);
    const epochAfter = await admin.get(`${KEY}:epoch`);
    assert.notEqual(epochAfter, epochBefore, 'a new epoch');
    const [[, fields]] = await admin.xrange(KEY, '-', '+');
    assert.equal(fields[fields.indexOf('e') + 1], epochAfter, 'the entry carries the new epoch in field e');

    // The same gateway keeps delivering in the new epoch, without another reset.
    assert.equal((await publish(gw.url, publishBody([{ label: 'later' }]))).status, 201);
    const later = await c.waitFor(3);
    assert.match(later[2], /"label":"later"/);
    assert.equal(await resets(), 1);
  } finally {
    c.close();
  }
});

test('regression: Redis back empty (restart without persistence) after ids ahead of the clock: new events delivered, reset counted', async () => {
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
  try {
    const before = await resets();
    await admin.xadd(KEY, `${Date.now() + 120000}-0`, 'a', ACCOUNT, 'f', frame('future-2'));
    await c.waitFor(1);
    await redis.restart();
    // The gateway's publisher reconnects with backoff: retry until the publish is taken.
    let status = 0;
    for (let i = 0; i < 100 && status !== 201; i++) {
      status = (await publish(gw.url, publishBody([{ label: 'after-restart' }]))).status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 50)); // paces retries; decides nothing
    }
    assert.equal(status, 201);
    const msgs = await c.waitFor(2, 10000);
    assert.match(msgs[1], /"label":"after-restart"/);
    assert.ok((await resets()) > before, 'the reset is counted');
  } finally {
    c.close();
  }
});

test('regression: a stream that lost its last entries but kept its epoch (failover to a lagging replica) goes on after the part it holds, without sending the whole stream again', async () => {
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
  try {
    const before = await resets();
    for (const label of ['p1', 'p2', 'p3']) assert.equal((await publish(gw.url, publishBody([{ label }]))).status, 201);
    const kept = await admin.xrange(KEY, '-', '+');
    // Two entries the replica never got, from an old master whose clock was a minute ahead: the
    // new master's next ids are below them, so the reader's XREAD would wait for a minute.
    for (const [k, label] of ['lost1', 'lost2'].entries()) await admin.xadd(KEY, `${Date.now() + 60000}-${k}`, 'a', ACCOUNT, 'f', frame(label));
    assert.match((await c.waitFor(5))[4], /"label":"lost2"/);
    // What the promoted replica holds: the same first entries (same ids, same epoch), not the last two.
    const epoch = await admin.get(`${KEY}:epoch`);
    await admin.multi().del(KEY).exec();
    for (const [id, fields] of kept) await admin.xadd(KEY, id, ...fields);
    assert.equal(await admin.get(`${KEY}:epoch`), epoch, 'the epoch key survived, as on a promoted replica');
    assert.equal((await publish(gw.url, publishBody([{ label: 'after-failover' }]))).status, 201);
    assert.equal((await publish(gw.url, publishBody([{ label: 'sentinel' }]))).status, 201);
    // The sentinel decides: with a re-read from 0-0, p1..p3 would arrive again before it.
    const all = await c.waitFor(7, 10000);
    assert.deepEqual(
      all.map((m) => /"label":"([^"]*)"/.exec(m)?.[1]),
      ['p1', 'p2', 'p3', 'lost1', 'lost2', 'after-failover', 'sentinel'],
    );
    assert.ok((await resets()) > before, 'the lost tail is a reset (new epoch), counted');
  } finally {
    c.close();
  }
});
