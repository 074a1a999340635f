import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, OTHER_ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * Idempotency-Key on POST /publish (SPEC 11), on both buses. "Appended once" is decided by a
 * sentinel published after the repeats: in the one stream order nothing before it is still due.
 */
let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const label = (msg: string) => (JSON.parse(msg) as { event: { label: string } }).event.label;
const sub = (gw: Gateway, account = ACCOUNT): Promise<Client> => connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': account });

async function publishLabel(gw: Gateway, l: string, headers: Record<string, string> = {}): Promise<void> {
  const a = await publish(gw.url, publishBody([{ label: l }]), headers);
  assert.equal(a.status, 201, a.text);
  assert.deepEqual(a.json(), { published: 1 });
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`Idempotency-Key (${kind} bus)`, () => {
    const env = (): Record<string, string> => (kind === 'redis' ? { REDIS_URL: redis.url, SENDER_STREAM_KEY: `test:idem:${Date.now()}:${Math.random()}` } : {});

    test('a repeat of a key appends once and is answered 201 like the first; another account with the same key appends', async () => {
      const gw = await startGateway(env());
      try {
        const c = await sub(gw);
        const other = await sub(gw, OTHER_ACCOUNT);
        await publishLabel(gw, 'first', { 'Idempotency-Key': 'order-42:a.b_c' });
        await publishLabel(gw, 'first', { 'Idempotency-Key': 'order-42:a.b_c' });
        await publishLabel(gw, 'first', { 'Idempotency-Key': 'order-42:a.b_c' });
        await publishLabel(gw, 'other', { 'Idempotency-Key': 'order-42:a.b_c', 'Luna-Account-Id': OTHER_ACCOUNT });
        await publishLabel(gw, 'sentinel');
        await publishLabel(gw, 'sentinel', { 'Luna-Account-Id': OTHER_ACCOUNT });
        assert.deepEqual((await c.waitFor(2)).map(label), ['first', 'sentinel']);
        assert.deepEqual((await other.waitFor(2)).map(label), ['other', 'sentinel']);
        c.close();
        other.close();
      } finally {
        await gw.stop();
      }
    });

    test('after SENDER_IDEMPOTENCY_TTL the same key appends again', async () => {
      const gw = await startGateway({ ...env(), SENDER_IDEMPOTENCY_TTL: '0.2' });
      try {
        const c = await sub(gw);
        await publishLabel(gw, 'one', { 'Idempotency-Key': 'k' });
        await publishLabel(gw, 'dup', { 'Idempotency-Key': 'k' });
        // The subject here is time itself: the key must have expired (TTL 0.2 s).
        await new Promise((r) => setTimeout(r, 400));
        await publishLabel(gw, 'two', { 'Idempotency-Key': 'k' });
        await publishLabel(gw, 'sentinel');
        assert.deepEqual((await c.waitFor(3)).map(label), ['one', 'two', 'sentinel']);
        c.close();
      } finally {
        await gw.stop();
      }
    });

    test('a malformed key is a 400 (12012) naming the header, and appends nothing', async () => {
      const gw = await startGateway(env());
      try {
        const c = await sub(gw);
        for (const bad of ['', 'has space', 'x'.repeat(65), 'a\u00e9b', 'a/b']) {
          const a = await publish(gw.url, publishBody([{ label: 'bad' }]), { 'Idempotency-Key': bad });
          assert.equal(a.status, 400, `key ${JSON.stringify(bad)}`);
          const b = errorBody(a);
          assert.equal(b.error_code, 12012);
          assert.match(b.detail, /'Idempotency-Key'/);
        }
        await publishLabel(gw, 'ok', { 'Idempotency-Key': 'x'.repeat(64) });
        await publishLabel(gw, 'sentinel');
        assert.deepEqual((await c.waitFor(2)).map(label), ['ok', 'sentinel']);
        c.close();
      } finally {
        await gw.stop();
      }
    });
  });
}
