import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Bus, BusEvent } from '../../src/bus/index.js';
import { MemoryBus } from '../../src/bus/memory.js';
import { RedisStreamBus } from '../../src/bus/redis-stream.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * The Bus contract (src/bus/bus.ts), one suite run against every implementation. Every test makes
 * its own bus; a Redis bus gets its own stream key, so tests do not see each other's entries.
 */
interface Made {
  bus: Bus;
  /** Another reader of the same bus (multi-process fan-out); absent where there is only one. */
  makeSecondReader?: () => Promise<Bus>;
  cleanup: () => Promise<void>;
}

const ACCOUNT = '6d9e2c7a-1b3f-4c5d-8e9f-0a1b2c3d4e5f';

/** A frame (a JSON object text, as the Redis reader requires) and facts with every byte value. */
export function event(label: string, account = ACCOUNT): BusEvent {
  const frame = Buffer.from(`{"event": {"label": "${label}", "n": 12345678901234567890, "s": "\\u00e9 é"}, "handler_id": "h"}`);
  const facts = Buffer.concat([Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a]), Buffer.from(label)]);
  return { account, frame, facts };
}

function labelOf(ev: BusEvent): string {
  return /"label": "([^"]*)"/.exec(Buffer.from(ev.frame).toString('utf8'))![1];
}

/** A collector whose events are copied (the contract lets the bus reuse `frame` after the call). */
function collector(): { events: BusEvent[]; onEvent: (ev: BusEvent) => void } {
  const events: BusEvent[] = [];
  return {
    events,
    onEvent: (ev) => events.push({ account: ev.account, frame: Buffer.from(ev.frame), facts: Buffer.from(ev.facts) }),
  };
}

export async function waitFor(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function runContract(name: string, makeBus: () => Promise<Made>): void {
  describe(`Bus contract: ${name}`, () => {
    test('events published after start() are delivered, bytes of frame and facts exact', async () => {
      const { bus, cleanup } = await makeBus();
      try {
        const c = collector();
        await bus.start(c.onEvent);
        const sent = [event('one'), event('two', 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee')];
        await bus.publish(sent, 2000);
        await waitFor(() => c.events.length === 2, 'two events');
        for (let i = 0; i < 2; i++) {
          assert.equal(c.events[i].account, sent[i].account);
          assert.deepEqual(Buffer.from(c.events[i].frame), sent[i].frame);
          assert.deepEqual(Buffer.from(c.events[i].facts), sent[i].facts);
        }
        assert.equal(bus.stats().eventsIn, 2);
      } finally {
        await cleanup();
      }
    });

    test('order is preserved across batches; each batch is contiguous and in list order', async () => {
      const { bus, cleanup } = await makeBus();
      try {
        const c = collector();
        await bus.start(c.onEvent);
        // Sequential batches keep their order; concurrent ones may interleave only as whole batches.
        await bus.publish([event('s0-0'), event('s0-1')], 2000);
        await bus.publish([event('s1-0')], 2000);
        const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 25 }, (_, i) => event(`c${b}-${i}`)));
        await Promise.all(batches.map((batch) => bus.publish(batch, 2000)));
        const total = 3 + 8 * 25;
        await waitFor(() => c.events.length === total, `${total} events`);
        const labels = c.events.map(labelOf);
        assert.deepEqual(labels.slice(0, 3), ['s0-0', 's0-1', 's1-0']);
        const rest = labels.slice(3);
        for (let k = 0; k < rest.length; k += 25) {
          const b = rest[k].split('-')[0];
          assert.deepEqual(
            rest.slice(k, k + 25),
            Array.from({ length: 25 }, (_, i) => `${b}-${i}`),
            'a batch is contiguous and in list order',
          );
        }
        assert.equal(new Set(rest.map((l) => l.split('-')[0])).size, 8);
      } finally {
        await cleanup();
      }
    });

    test('every reader gets every event once, in the same order', async (t) => {
      const { bus, makeSecondReader, cleanup } = await makeBus();
      if (makeSecondReader === undefined) {
        await cleanup();
        t.skip('one reader per bus');
        return;
      }
      const second = await makeSecondReader();
      try {
        const c1 = collector();
        const c2 = collector();
        await bus.start(c1.onEvent);
        await second.start(c2.onEvent);
        const batches = Array.from({ length: 10 }, (_, b) => Array.from({ length: 10 }, (_, i) => event(`r${b}-${i}`)));
        await Promise.all(batches.map((batch, i) => (i % 2 === 0 ? bus : second).publish(batch, 2000)));
        await waitFor(() => c1.events.length >= 100 && c2.events.length >= 100, 'both readers');
        await new Promise((r) => setTimeout(r, 200));
        const l1 = c1.events.map(labelOf);
        const l2 = c2.events.map(labelOf);
        assert.equal(l1.length, 100);
        assert.equal(new Set(l1).size, 100, 'no event twice');
        assert.deepEqual(l2, l1, 'same order for every reader');
      } finally {
        await second.close();
        await cleanup();
      }
    });

    test('check() resolves on a working bus', async () => {
      const { bus, cleanup } = await makeBus();
      try {
        await bus.check(2000);
      } finally {
        await cleanup();
      }
    });

    test('close() is idempotent', async () => {
      const { bus, cleanup } = await makeBus();
      await bus.start(() => {});
      await bus.close();
      await bus.close();
      await Promise.all([bus.close(), bus.close()]);
      await cleanup();
    });
  });
}

runContract('MemoryBus', async () => {
  const bus = new MemoryBus();
  return { bus, cleanup: () => bus.close() };
});

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

runContract('RedisStreamBus', async () => {
  const config = loadConfig({ REDIS_URL: redis.url, SENDER_STREAM_KEY: `test:contract:${randomUUID()}`, LOG_LEVEL: 'silent' });
  const log = createLogger('silent');
  const bus = new RedisStreamBus(config, log);
  return {
    bus,
    makeSecondReader: async () => new RedisStreamBus(config, log),
    cleanup: () => bus.close(),
  };
});
