import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { scrapeOnce } from '../helpers/pm2.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { type Client, connect } from '../helpers/ws-client.js';

// Real worker processes under the real supervisor (`node build/src/main.js`), on a real Redis that
// persists (appendonly) so a restart keeps the stream, as a production Redis would.
let redis: TestRedis;
let gw: GatewayProcess;

before(async () => {
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '3', SENDER_REDIS_TIMEOUT: '1' });
});
after(async () => {
  await gw?.stop('SIGKILL');
  await redis?.stop();
});

const wsUrl = (q = '') => `ws://127.0.0.1:${gw.port}/2/ws${q}`;

/** Distinct worker pids seen by connections: /metrics is per worker, so we ask the workers' pids through the log-free way: many connections. */
async function subscribers(n: number, query = ''): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, () => connect(wsUrl(query), { 'Luna-Account-Id': ACCOUNT })));
}

const seqs = (c: Client) => c.messages.map((m) => JSON.parse(m).event.seq as number);

async function publishSeq(from: number, count: number, batch = 10): Promise<void> {
  for (let i = from; i < from + count; i += batch) {
    const events = Array.from({ length: Math.min(batch, from + count - i) }, (_, j) => ({ seq: i + j }));
    const a = await publish(`http://127.0.0.1:${gw.port}`, publishBody(events));
    assert.equal(a.status, 201, a.text);
  }
}

/** The workers that answered (the Luna-Sender-Worker header of /metrics); hitting the port many times reaches all of them. */
async function workerPids(): Promise<Set<string>> {
  const pids = new Set<string>();
  for (let i = 0; i < 60; i++) {
    // A connection the kernel had queued for a worker that just died is reset: skip it.
    const got = await scrapeOnce(gw.port);
    if (got === undefined) continue;
    pids.add(got.pid);
  }
  return pids;
}

test('subscribers spread over the workers all get every event once, in order', async () => {
  const clients = await subscribers(30);
  await publishSeq(0, 200);
  const expected = Array.from({ length: 200 }, (_, i) => i);
  for (const c of clients) {
    await c.waitFor(200);
    assert.deepEqual(seqs(c), expected);
  }
  const pids = await workerPids();
  assert.ok(pids.size >= 2, `connections reached ${pids.size} worker(s): ${[...pids]}`);
  for (const c of clients) c.close();
});

test('Redis restarted mid-stream: sockets stay open, 503 and 502 while it is away, nothing lost after', async () => {
  const clients = await subscribers(6);
  await publishSeq(0, 50);
  await Promise.all(clients.map((c) => c.waitFor(50)));
  await redis.kill();
  const down = await publish(`http://127.0.0.1:${gw.port}`, publishBody([{ seq: -1 }]));
  assert.equal(down.status, 503);
  assert.equal(down.json().error_code, 29005);
  const health = await http(`http://127.0.0.1:${gw.port}/healthcheck`);
  assert.equal(health.status, 502);
  assert.equal(health.json().error_code, 29005);
  assert.match(health.json().detail, /redis/);
  await redis.start();
  // Publish again as soon as Redis takes it (the publisher connection reconnects with backoff).
  let ok = false;
  for (let i = 0; i < 200 && !ok; i++) {
    ok = (await publish(`http://127.0.0.1:${gw.port}`, publishBody([{ seq: 50 }]))).status === 201;
    if (!ok) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(ok, 'publish never succeeded after Redis came back');
  await publishSeq(51, 49);
  const expected = Array.from({ length: 100 }, (_, i) => i);
  for (const c of clients) {
    await c.waitFor(100, 20000);
    assert.deepEqual(seqs(c), expected, 'events before, none of the refused one, all after');
  }
  assert.equal((await http(`http://127.0.0.1:${gw.port}/healthcheck`)).status, 200);
  for (const c of clients) c.close();
});

test('a worker killed with SIGKILL is replaced; the port keeps serving', async () => {
  const before = await workerPids();
  const victim = [...before].find((p) => p !== 'unknown')!;
  process.kill(Number(victim), 'SIGKILL');
  let after = new Set<string>();
  for (let i = 0; i < 100; i++) {
    after = await workerPids();
    if (!after.has(victim) && after.size >= before.size) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(!after.has(victim));
  assert.equal(after.size, before.size, `workers after restart: ${[...after]}`);
  const clients = await subscribers(6);
  await publishSeq(1000, 20);
  for (const c of clients) {
    await c.waitFor(20);
    assert.deepEqual(
      seqs(c),
      Array.from({ length: 20 }, (_, i) => 1000 + i),
    );
  }
  for (const c of clients) c.close();
});

test('SIGTERM closes every socket with 1001 and the supervisor exits 0', async () => {
  const clients = await subscribers(9);
  const code = await gw.stop('SIGTERM');
  const closes = await Promise.all(clients.map((c) => c.closed));
  for (const c of closes) assert.equal(c.code, 1001);
  assert.equal(code, 0);
});
