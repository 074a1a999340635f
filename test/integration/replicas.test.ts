import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, publish, publishBody } from '../helpers/http.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/ws-client.js';

/**
 * SENDER_REDIS_MIN_REPLICAS against a real replica (a second redis-server with --replicaof): a
 * publish is answered 201 once the replica holds it; with the replica hung (SIGSTOP) the batch is
 * written but unconfirmed, 503 with a detail saying so; after SIGCONT a retry with the same
 * Idempotency-Key is 201 and the subscriber got exactly one copy.
 */
test('SENDER_REDIS_MIN_REPLICAS=1: 201 with the replica up, 503 (may still be delivered) with it stopped, a retry with the same key is 201 and appends nothing', async () => {
  // No 5 s wait before the first full sync (the default diskless delay).
  const master = await startRedis(['--repl-diskless-sync-delay', '0']);
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const admin = new Redis(master.url, { maxRetriesPerRequest: null });
  admin.on('error', () => {});
  try {
    // `state=online` comes before the replica acknowledges promptly (the first WAIT after a sync
    // can take most of a second): ready is a write of our own confirmed by WAIT.
    await waitFor(async () => {
      await admin.set('probe', '1');
      return Number(await admin.call('WAIT', '1', '200')) === 1;
    }, 'the replica in sync and acknowledging');
    const gw = await startGateway({ REDIS_URL: master.url, SENDER_REDIS_MIN_REPLICAS: '1', SENDER_REDIS_TIMEOUT: '1' });
    try {
      const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
      const body = (label: string) => publishBody([{ label }]);
      const up = await publish(gw.url, body('up'), { 'Idempotency-Key': 'k-up' });
      assert.equal(up.status, 201, up.text);

      replica.pause();
      let resumed = false;
      try {
        const a = await publish(gw.url, body('during'), { 'Idempotency-Key': 'k-during' });
        assert.equal(a.status, 503, a.text);
        const b = errorBody(a);
        assert.equal(b.error_code, 29005);
        assert.match(b.detail, /may still be delivered/);
        assert.match(b.detail, /retry with the same Idempotency-Key is safe/);
      } finally {
        replica.resume();
        resumed = true;
      }
      assert.ok(resumed);
      // The replica catches up after SIGCONT; each retry carries the same key, which is the point.
      let status = 0;
      for (let i = 0; i < 20 && status !== 201; i++) status = (await publish(gw.url, body('during'), { 'Idempotency-Key': 'k-during' })).status;
      assert.equal(status, 201);
      assert.equal((await publish(gw.url, body('sentinel'))).status, 201);
      const labels = (await c.waitFor(3)).map((m) => (JSON.parse(m) as { event: { label: string } }).event.label);
      assert.deepEqual(labels, ['up', 'during', 'sentinel'], 'the unconfirmed batch once, its retries not at all');
      c.close();
    } finally {
      await gw.stop();
    }
  } finally {
    admin.disconnect();
    await replica.stop();
    await master.stop();
  }
});
