import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type BusEvent, BusUnavailableError } from '../../src/bus/index.js';
import { RedisStreamBus, type RedisStreamBusOptions } from '../../src/bus/redis-stream.js';
import { loadConfig } from '../../src/config/index.js';
import { encodeFacts, extractFacts } from '../../src/filters/index.js';
import { createLogger } from '../../src/log.js';
import { collector, publishWhenBack } from '../helpers/bus.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Failure paths of the Redis stream bus against a real redis-server: hung (SIGSTOP), stopped,
 * restarted, connections killed, the stream trimmed under a reader, entries written by others.
 */
const ACCOUNT = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

let redis: TestRedis;
let admin: Redis;
const buses: RedisStreamBus[] = [];

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
  admin.on('error', () => {});
  await admin.connect();
});
after(async () => {
  await Promise.all(buses.map((b) => b.close()));
  admin?.disconnect();
  await redis?.stop();
});

function makeBus(env: Record<string, string> = {}, options: RedisStreamBusOptions = {}): { bus: RedisStreamBus; key: string } {
  const key = `test:redis-bus:${randomUUID()}`;
  const config = loadConfig({ REDIS_URL: redis.url, SENDER_STREAM_KEY: key, LOG_LEVEL: 'silent', ...env });
  const bus = new RedisStreamBus(config, createLogger('silent'), options);
  buses.push(bus);
  return { bus, key };
}

function ev(label: string): BusEvent {
  return { account: ACCOUNT, frame: Buffer.from(`{"event": {"label": "${label}"}, "handler_id": "h"}`), facts: Buffer.from([1, 2, 3]) };
}

/** Publishes a sentinel and waits for it: in the one stream order, nothing published before it is still due. */
async function publishAndSee(bus: RedisStreamBus, c: { labels: () => string[] }): Promise<void> {
  await bus.publish([ev('sentinel')], 2000);
  await waitFor(() => c.labels().includes('sentinel'), 'the sentinel');
}

describe('RedisStreamBus against failures', () => {
  test('a publish to a hung Redis times out, and that batch is never delivered after Redis resumes', async () => {
    const { bus, key } = makeBus();
    const c = collector();
    await bus.start(c.onEvent);
    await bus.publish([ev('before')], 2000);
    await waitFor(() => c.events.length === 1, 'first event');

    redis.pause();
    try {
      await assert.rejects(bus.publish([ev('lost-1'), ev('lost-2')], 300), (err: Error) => {
        assert.ok(err instanceof BusUnavailableError);
        assert.match(err.message, /^redis: timeout after 300ms$/);
        return true;
      });
      await assert.rejects(bus.check(300), /^Error: redis: timeout after 300ms$/);
    } finally {
      redis.resume();
    }
    // The timed-out command was in the server's input buffer; it runs now and must append nothing.
    // Published after one publish was acknowledged, so after whatever Redis still had queued.
    const after = await publishWhenBack(bus, 'after', ev);
    await publishAndSee(bus, c);
    assert.deepEqual(c.labels(), ['before', after, 'sentinel']);
    const all = (await admin.xrange(key, '-', '+')).map(([, f]) => f[f.indexOf('f') + 1]);
    assert.equal(all.filter((f) => f.includes('lost-')).length, 0, 'nothing of the timed-out batch is in the stream');
  });

  test('a publish while Redis is stopped fails fast; check() names the reason', async () => {
    const { bus } = makeBus({ SENDER_REDIS_TIMEOUT: '10' });
    await bus.publish([ev('warm-up')], 2000);
    await redis.kill();
    try {
      // Give the client a moment to notice the closed socket; then every attempt fails at once.
      await waitFor(
        async () =>
          await bus.check(1000).then(
            () => false,
            () => true,
          ),
        'check to fail',
      );
      const started = Date.now();
      await assert.rejects(bus.publish([ev('refused')], 10000), (err: Error) => {
        assert.ok(err instanceof BusUnavailableError);
        assert.match(err.message, /^redis: (connection refused|connection lost|not connected)$/);
        return true;
      });
      assert.ok(Date.now() - started < 5000, 'failed without waiting for the 10 s timeout');
      await assert.rejects(bus.check(1000), /^Error: redis: /);
    } finally {
      await redis.start();
    }
    await publishWhenBack(bus, 'back', ev);
  });

  test('the reader survives a Redis restart and delivers events published after it (the stream is empty after restart: no persistence)', async () => {
    const { bus } = makeBus();
    const c = collector();
    await bus.start(c.onEvent);
    await bus.publish([ev('pre')], 2000);
    await waitFor(() => c.events.length === 1, 'pre');
    await redis.restart();
    const label = await publishWhenBack(bus, 'post', ev);
    await publishAndSee(bus, c);
    assert.deepEqual(c.labels(), ['pre', label, 'sentinel'], 'no failed attempt delivered, nothing twice');
    assert.equal(bus.stats().gaps, 0);
  });

  test('a killed reader connection resumes from its last id: entries appended meanwhile arrive exactly once', async () => {
    const { bus, key } = makeBus();
    const c = collector();
    await bus.start(c.onEvent);
    await bus.publish([ev('e0')], 2000);
    await waitFor(() => c.events.length === 1, 'e0');
    // Kill every other client and append in the same pipeline, before the reader can reconnect.
    const p = admin.pipeline().client('KILL', 'TYPE', 'normal');
    for (let i = 1; i <= 5; i++) p.xadd(key, '*', 'a', ACCOUNT, 'f', `{"event": {"label": "e${i}"}, "handler_id": "h"}`, 'p', 'x');
    await p.exec();
    await waitFor(() => c.events.length >= 6, 'entries appended during the outage');
    const label = await publishWhenBack(bus, 'e6', ev);
    await publishAndSee(bus, c);
    assert.deepEqual(c.labels(), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', label, 'sentinel']);
    assert.equal(bus.stats().gaps, 0);
  });

  test('entries trimmed away before the reader got them are counted as a gap', async () => {
    // Small stream nodes so that `MAXLEN ~ 10` really trims (Redis trims whole nodes only).
    await admin.config('SET', 'stream-node-max-entries', '4');
    try {
      const { bus, key } = makeBus({ SENDER_STREAM_MAXLEN: '10' }, { gapCheckAfterMs: 50 });
      let blocked = false;
      const c = collector();
      await bus.start((e) => {
        c.onEvent(e);
        if (blocked) return;
        blocked = true;
        // The reader's process is busy (event loop blocked) while another producer appends 200
        // entries to a stream capped at ~10: most of them are gone before the reader looks again.
        const script = `for i = 1, 200 do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '10', '*', 'a', ARGV[1], 'f', '{"event": {"label": "t' .. i .. '"}, "handler_id": "h"}', 'p', 'x') end`;
        execFileSync('redis-cli', ['-p', String(redis.port), 'EVAL', script, '1', key, ACCOUNT]);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      });
      await bus.publish([ev('first')], 2000);
      const streamLen = async () => Number(await admin.xlen(key));
      await waitFor(() => bus.stats().gaps > 0, 'a gap');
      const remaining = await streamLen();
      await waitFor(() => c.events.length === 1 + remaining, 'the entries still in the stream');
      const s = bus.stats();
      assert.equal(s.gaps + s.eventsIn, 201, 'every entry is either delivered or counted lost');
      assert.ok(remaining < 50, `stream was trimmed (length ${remaining})`);
      const got = c.labels().slice(1);
      assert.deepEqual(
        got,
        Array.from({ length: remaining }, (_, i) => `t${201 - remaining + i}`),
        'the newest entries, in order',
      );
    } finally {
      await admin.config('SET', 'stream-node-max-entries', '100');
    }
  });

  test('malformed entries written directly are skipped and counted; the reader goes on', async () => {
    const { bus, key } = makeBus();
    const c = collector();
    await bus.start(c.onEvent);
    await admin.xadd(key, '*', 'f', '{"event": {}, "handler_id": "h"}', 'p', 'x'); // no account
    await admin.xadd(key, '*', 'a', ACCOUNT, 'p', 'x'); // no frame
    await admin.xadd(key, '*', 'a', 'not-a-uuid', 'f', '{"event": {}, "handler_id": "h"}', 'p', 'x');
    await admin.xadd(key, '*', 'a', ACCOUNT, 'f', 'plain text', 'p', 'x'); // frame not an object
    await admin.xadd(key, '*', 'a', ACCOUNT, 'f', '{"event": {"x": }'); // bad JSON, no facts to trust
    await admin.xadd(key, '*', 'a', ACCOUNT, 'f', '{"handler_id": "h"}'); // no event to take facts from
    await bus.publish([ev('good')], 2000);
    await waitFor(() => c.events.length === 1, 'the good entry');
    assert.deepEqual(c.labels(), ['good']);
    assert.equal(bus.stats().malformed, 6);
    assert.equal(bus.stats().eventsIn, 1);
  });

  test('an entry written by a third-party producer in the documented format is delivered', async () => {
    const { bus, key } = makeBus();
    const c = collector();
    await bus.start(c.onEvent);
    const eventText = '{"source": "cam-1", "big": 12345678901234567890,  "age": 30.0}';
    const frame = `{"event": ${eventText}, "handler_id": "hid", "event-create-time": "t0", "event-end-time": "t1", "Luna-Request-id": "1700000000,00000000-0000-4000-8000-000000000000"}`;
    const facts = encodeFacts(extractFacts(JSON.parse(eventText), 'hid'));
    // Without `p` (the worker computes the facts), then with it; the account in upper case.
    await admin.xadd(key, '*', 'a', ACCOUNT.toUpperCase(), 'f', frame);
    await admin.xadd(key, 'MAXLEN', '~', '1000', '*', 'a', ACCOUNT, 'f', frame, 'p', Buffer.from(facts));
    await waitFor(() => c.events.length === 2, 'both entries');
    for (const e of c.events) {
      assert.equal(e.account, ACCOUNT);
      assert.equal(Buffer.from(e.frame).toString('utf8'), frame);
      assert.deepEqual(Buffer.from(e.facts), Buffer.from(facts));
    }
    assert.equal(bus.stats().malformed, 0);
  });
});
