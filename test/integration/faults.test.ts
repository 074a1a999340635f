import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { spawnGateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { type Client, connect } from '../helpers/ws-client.js';

const redises: TestRedis[] = [];
after(async () => {
  for (const r of redises) await r.stop();
});

const seqs = (c: Client) => c.messages.map((m) => JSON.parse(m).event.seq as number);

test('Redis hung (SIGSTOP): publish gets 503, sockets stay open, the refused batch never appears', async () => {
  const redis = await startRedis();
  redises.push(redis);
  const gw = await startGateway({ REDIS_URL: redis.url, SENDER_REDIS_TIMEOUT: '0.5' });
  try {
    const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
    assert.equal((await publish(gw.url, publishBody([{ seq: 0 }]))).status, 201);
    await c.waitFor(1);
    redis.pause();
    const refused = await publish(gw.url, publishBody([{ seq: -1 }, { seq: -2 }]));
    assert.equal(refused.status, 503);
    assert.equal(refused.json().error_code, 29005);
    assert.equal((await http(`${gw.url}/healthcheck`)).status, 502);
    redis.resume();
    let ok = false;
    for (let i = 0; i < 200 && !ok; i++) {
      ok = (await publish(gw.url, publishBody([{ seq: 1 }]))).status === 201;
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ok, 'publish never worked again after SIGCONT');
    assert.equal((await publish(gw.url, publishBody([{ seq: 2 }]))).status, 201);
    await c.waitFor(3, 20000);
    assert.deepEqual(seqs(c), [0, 1, 2]);
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.close();
  } finally {
    await gw.stop();
  }
});

test('SIGTERM during heavy publish: no crash, sockets closed with 1001, each subscriber got a gapless, duplicate-free run', async () => {
  const redis = await startRedis();
  redises.push(redis);
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2' });
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT })));
  let next = 0;
  let acked = 0;
  let stop = false;
  const publisher = (async () => {
    // Bounded loop: at most 2000 batches; ends at the first refused or failed request after SIGTERM.
    for (let i = 0; i < 2000 && !stop; i++) {
      const events = Array.from({ length: 20 }, (_, j) => ({ seq: next + j }));
      next += 20;
      try {
        const a = await publish(gw.url, publishBody(events));
        if (a.status === 201) acked = next;
      } catch {
        return;
      }
    }
  })();
  await Promise.all(clients.map((c) => c.waitFor(200, 20000)));
  const code = await gw.stop('SIGTERM');
  stop = true;
  await publisher;
  assert.equal(code, 0);
  for (const c of clients) {
    assert.equal((await c.closed).code, 1001);
    const got = seqs(c);
    assert.ok(got.length >= 200);
    for (const [i, s] of got.entries()) assert.equal(s, i, `gap or duplicate at ${i}`);
    assert.ok(got.length <= next, 'received an event that was never sent');
  }
  assert.ok(acked >= 200);
});
