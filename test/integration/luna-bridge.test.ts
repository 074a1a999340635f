import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisStreamBus } from '../../src/bus/redis-stream.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { REQUEST_ID_RE } from '../../src/events/index.js';
import { LunaBridge } from '../../src/inputs/index.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * Three bridges (as three worker processes would run) on one Redis: each channel message becomes
 * exactly one set of stream entries, also across a takeover of the lease.
 */
const ACCOUNT = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const LEASE_TTL = 300;
const SRC = new URL('../../src/', import.meta.url).href;
/** A bridge in a child process (configured from its environment); prints `holder` once it holds. */
const CHILD = `
import { loadConfig } from '${SRC}config/index.js';
import { createLogger } from '${SRC}log.js';
import { Metrics } from '${SRC}metrics.js';
import { RedisStreamBus } from '${SRC}bus/redis-stream.js';
import { LunaBridge } from '${SRC}inputs/luna-bridge.js';
const config = loadConfig();
const log = createLogger('silent');
const bridge = new LunaBridge(config, log, new RedisStreamBus(config, log), new Metrics(), {
  leaseTtlMs: Number(process.env.TEST_LEASE_TTL), leaseKey: process.env.TEST_LEASE_KEY });
await bridge.start();
const timer = setInterval(() => { if (bridge.isHolder()) { console.log('holder'); clearInterval(timer); } }, 10);
`;

let redis: TestRedis;
let admin: Redis;

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { lazyConnect: true });
  admin.on('error', () => {});
  await admin.connect();
});
after(async () => {
  admin?.disconnect();
  await redis?.stop();
});

interface Node {
  bridge: LunaBridge;
  bus: RedisStreamBus;
  metrics: Metrics;
}

async function startNodes(n: number): Promise<{ nodes: Node[]; config: Config; key: string; prefix: string; stop: () => Promise<void> }> {
  const key = `test:bridge:${randomUUID()}`;
  const prefix = `test-luna-${randomUUID().slice(0, 8)}`;
  const config = loadConfig({ REDIS_URL: redis.url, SENDER_STREAM_KEY: key, SENDER_LUNA_CHANNEL_PREFIX: prefix, LOG_LEVEL: 'silent' });
  const leaseKey = `test:lease:${prefix}`;
  const nodes = Array.from({ length: n }, () => {
    const log = createLogger('silent');
    const bus = new RedisStreamBus(config, log);
    const metrics = new Metrics();
    return { bus, metrics, bridge: new LunaBridge(config, log, bus, metrics, { leaseTtlMs: LEASE_TTL, leaseKey }) };
  });
  await Promise.all(nodes.map((x) => x.bridge.start()));
  const stop = async () => {
    for (const x of nodes) await x.bridge.close();
    for (const x of nodes) await x.bus.close();
  };
  return { nodes, config, key, prefix, stop };
}

function holders(nodes: Node[]): Node[] {
  return nodes.filter((x) => x.bridge.isHolder());
}

async function entries(key: string): Promise<{ a: string; f: string }[]> {
  return (await admin.xrange(key, '-', '+')).map(([, fields]) => {
    const m = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) m.set(fields[i], fields[i + 1]);
    return { a: m.get('a')!, f: m.get('f')! };
  });
}

function frame(eventText: string, handlerId: string, requestId: string): string {
  return `{"event": ${eventText}, "handler_id": "${handlerId}", "event-create-time": "2024-01-01T00:00:00Z", "event-end-time": "2024-01-01T00:00:01Z", "Luna-Request-id": "${requestId}"}`;
}

/** A bridge in a child process on a fresh stream, prefix and lease; `holds()` once it holds the lease. */
function childHolder() {
  const key = `test:bridge:${randomUUID()}`;
  const prefix = `test-luna-${randomUUID().slice(0, 8)}`;
  const leaseKey = `test:lease:${prefix}`;
  const env = { REDIS_URL: redis.url, SENDER_STREAM_KEY: key, SENDER_LUNA_CHANNEL_PREFIX: prefix, LOG_LEVEL: 'silent' };
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, ...env, TEST_LEASE_KEY: leaseKey, TEST_LEASE_TTL: String(LEASE_TTL) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { key, prefix, leaseKey, child, exited, holds: () => out.includes('holder'), config: loadConfig(env) };
}

describe('LunaBridge', () => {
  test('each channel message becomes one set of stream entries, byte-exact, also after a takeover', async () => {
    const { nodes, key, prefix, stop } = await startNodes(3);
    try {
      await waitFor(() => holders(nodes).length === 1, 'one holder');
      const handlerId = randomUUID();
      // Odd spacing, a 64-bit integer, a float spelled 30.0, escapes and non-ASCII: kept as sent.
      const e1 = '{"source" : "cam-1",  "id": 12345678901234567890, "age": 30.0, "s": "\\u00e9\\n é"}';
      const e2 = '{ "2": "b", "1": "a" }';
      const given = `${Math.floor(Date.now() / 1000)},${randomUUID()}`;
      const msg1 = `{"handler_id": "${handlerId}", "Luna-Request-Id": "${given}", "events": [${e1}, ${e2}], "event_create_time": "2024-01-01T00:00:00Z", "event_end_time": "2024-01-01T00:00:01Z"}`;
      const e3 = '{"source": "cam-2"}';
      const msg2 = `{"handler_id": "${handlerId}", "events": [${e3}], "event_create_time": "2024-01-01T00:00:00Z", "event_end_time": "2024-01-01T00:00:01Z"}`;
      // The account in upper case in the channel: entries carry it lower-cased.
      // Every bridge listens (hot standby); only the holder forwards.
      assert.equal(await admin.publish(`${prefix}:${ACCOUNT.toUpperCase()}`, msg1), 3, 'every bridge is subscribed');
      assert.equal(await admin.publish(`${prefix}:${ACCOUNT}`, msg2), 3);
      await waitFor(async () => (await entries(key)).length >= 3, 'three entries');
      // Real time, not a sentinel: a duplicate would come from another node, whose pipeline a
      // sentinel bridged by the holder does not flush; two lease periods let a wrongful holder act.
      await sleep(LEASE_TTL * 2);
      let got = await entries(key);
      assert.equal(got.length, 3, 'each message bridged once');
      assert.ok(got.every((x) => x.a === ACCOUNT));
      assert.equal(got[0].f, frame(e1, handlerId, given));
      assert.equal(got[1].f, frame(e2, handlerId, given));
      const generated = /"Luna-Request-id": "([^"]*)"/.exec(got[2].f)![1];
      assert.match(generated, REQUEST_ID_RE);
      assert.equal(got[2].f, frame(e3, handlerId, generated));

      // The holder goes away; another takes the lease and later messages are bridged once.
      const old = holders(nodes)[0];
      await old.bridge.close();
      const rest = nodes.filter((x) => x !== old);
      await waitFor(() => holders(rest).length === 1, 'a new holder', 10000);
      const msg3 = `{"handler_id": "${handlerId}", "events": [{"source": "cam-3"}], "event_create_time": "2024-01-01T00:00:00Z", "event_end_time": "2024-01-01T00:00:01Z"}`;
      assert.equal(await admin.publish(`${prefix}:${ACCOUNT}`, msg3), 2, 'the two remaining bridges listen');
      await waitFor(async () => (await entries(key)).length >= 4, 'fourth entry');
      await sleep(LEASE_TTL * 2); // as above: time for a second holder to appear and bridge
      got = await entries(key);
      assert.equal(got.length, 4);
      assert.equal(holders(rest).length, 1, 'still one holder');
    } finally {
      await stop();
    }
  });

  test('a holder that crashes (lease not released) is replaced once its lease expires', async () => {
    // The first holder is another process, killed with SIGKILL: nothing of it runs any more.
    const { key, prefix, leaseKey, child, exited, holds, config } = childHolder();
    const log = createLogger('silent');
    const bus = new RedisStreamBus(config, log);
    const metrics = new Metrics();
    const bridge = new LunaBridge(config, log, bus, metrics, { leaseTtlMs: LEASE_TTL, leaseKey });
    try {
      await waitFor(holds, 'the child to hold the lease');
      await bridge.start();
      await sleep(LEASE_TTL); // a full lease period: a bridge that ignored the child's lease would hold it by now
      assert.equal(bridge.isHolder(), false, 'the lease is held by the child');
      child.kill('SIGKILL');
      await exited;
      await waitFor(() => bridge.isHolder(), 'takeover after the lease expired', 10000);
      const msg = `{"handler_id": "h", "events": [{"k": 1}], "event_create_time": "c", "event_end_time": "e"}`;
      assert.equal(await admin.publish(`${prefix}:${ACCOUNT}`, msg), 1);
      await waitFor(async () => (await entries(key)).length >= 1, 'entry');
      await sleep(LEASE_TTL * 2); // time for the killed child's lease to be wrongly honoured or doubled
      assert.equal((await entries(key)).length, 1);
    } finally {
      child.kill('SIGKILL');
      await bridge.close();
      await bus.close();
    }
  });

  test('messages published while the lease holder is SIGKILLed are each forwarded exactly once, in order, after takeover', async () => {
    // The first holder is another process, killed with SIGKILL: nothing of it runs any more.
    const { key, prefix, leaseKey, child, exited, holds, config } = childHolder();
    // Two stand-bys in this process, with the holder in the child.
    const standbys = [0, 1].map(() => {
      const log = createLogger('silent');
      const bus = new RedisStreamBus(config, log);
      return { bus, bridge: new LunaBridge(config, log, bus, new Metrics(), { leaseTtlMs: LEASE_TTL, leaseKey }) };
    });
    const TOTAL = 150;
    try {
      await waitFor(holds, 'the child to hold the lease');
      for (const s of standbys) await s.bridge.start();
      await waitFor(async () => (await admin.publish(`${prefix}:probe`, 'x')) === 3, 'every bridge subscribed');
      for (let k = 0; k < TOTAL; k++) {
        const msg = `{"handler_id": "h", "Luna-Request-Id": "${Math.floor(Date.now() / 1000)},${randomUUID()}", "events": [{"k": ${k}}], "event_create_time": "c", "event_end_time": "e"}`;
        await admin.publish(`${prefix}:${ACCOUNT}`, msg);
        if (k === 50) child.kill('SIGKILL'); // mid-stream: what it had not appended is in the stand-bys' buffers
        await sleep(10); // paces the publisher so that the takeover happens while messages flow
      }
      await exited;
      const ks = async () => (await entries(key)).map((e) => Number(/"k": (\d+)/.exec(e.f)![1]));
      await waitFor(async () => (await ks()).length >= TOTAL, 'every message in the stream', 15000);
      await sleep(LEASE_TTL * 2); // real time: a duplicate would come from a stand-by, which no sentinel flushes
      assert.deepEqual(
        await ks(),
        Array.from({ length: TOTAL }, (_, i) => i),
        'each message once, in order',
      );
      assert.equal(standbys.filter((s) => s.bridge.isHolder()).length, 1, 'one new holder');
    } finally {
      child.kill('SIGKILL');
      for (const s of standbys) await s.bridge.close();
      for (const s of standbys) await s.bus.close();
    }
  });

  test('malformed messages are counted and skipped; the bridge keeps working', async () => {
    const { nodes, key, prefix, stop } = await startNodes(3);
    try {
      await waitFor(() => holders(nodes).length === 1, 'one holder');
      const ok = (events: string) => `{"handler_id": "h", "events": ${events}, "event_create_time": "c", "event_end_time": "e"}`;
      const bad: [string, string][] = [
        [`${prefix}:${ACCOUNT}`, '{"handler_id": "h", "events": [{}], '], // bad JSON
        [`${prefix}:${ACCOUNT}`, '{"events": [{}], "event_create_time": "c", "event_end_time": "e"}'], // no handler_id
        [`${prefix}:${ACCOUNT}`, '{"handler_id": "h", "events": [{}], "event_end_time": "e"}'], // no event_create_time
        [`${prefix}:not-a-uuid`, ok('[{}]')], // account part not a UUID
        [`${prefix}:${ACCOUNT}`, ok('[]')], // empty events
        [`${prefix}:${ACCOUNT}`, ok('[{}, 3]')], // an event that is not an object
        [`${prefix}:${ACCOUNT}`, ok('{"a": {}}')], // events not a list
        [`${prefix}:${ACCOUNT}`, '[1, 2]'], // not an object
        [`${prefix}:${ACCOUNT}`, '{"handler_id": "h", "Luna-Request-Id": "nope", "events": [{}], "event_create_time": "c", "event_end_time": "e"}'],
      ];
      for (const [channel, message] of bad) await admin.publish(channel, message);
      await admin.publish(`${prefix}:${ACCOUNT}`, ok('[{"good": true}]'));
      await waitFor(async () => (await entries(key)).length >= 1, 'the good message');
      const total = () => nodes.reduce((n, x) => n + x.metrics.malformedLunaMessages, 0);
      await waitFor(() => total() === bad.length, 'malformed count');
      await sleep(LEASE_TTL); // real time: a non-holder that bridged a message would not be flushed by a sentinel
      const got = await entries(key);
      assert.equal(got.length, 1);
      assert.match(got[0].f, /^\{"event": \{"good": true\}, "handler_id": "h"/);
      assert.equal(total(), bad.length);
    } finally {
      await stop();
    }
  });
});
