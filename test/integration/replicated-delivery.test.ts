import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseExposition, sample } from '../helpers/exposition.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * SENDER_REDIS_MIN_REPLICAS > 0, the reading side (bus.ts, "Replicated before delivered"): a worker
 * delivers an entry only once the required replicas hold it. The replica reaches its master through
 * a TCP proxy, so the test can cut the replication link for real: the master then has no replica
 * at all, and nothing written meanwhile can reach the replica (a SIGSTOPped replica would still
 * receive it into its socket buffer and apply it on SIGCONT).
 *
 * "Not delivered yet" is decided by events, never by sleeping: a second gateway without min
 * replicas, on the same master, delivers the entry (so it is on the master and readable), and the
 * first gateway's `luna_sender_stream_held_entries` shows its reader holding it.
 */

const procs: TestRedis[] = [];
const proxies: TcpProxy[] = [];
const gateways: Gateway[] = [];
const clients: Client[] = [];
const admins: Redis[] = [];

after(async () => {
  for (const c of clients) c.ws.terminate();
  for (const g of gateways) await g.stop().catch(() => undefined);
  for (const a of admins) a.disconnect();
  for (const p of proxies) await p.close().catch(() => undefined);
  for (const r of procs) await r.stop().catch(() => undefined);
});

function admin(port: number): Redis {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => undefined);
  admins.push(r);
  return r;
}

/** A write of our own on `master`, confirmed by WAIT: the replica is in sync and acknowledging. */
async function inSync(master: Redis, what: string): Promise<void> {
  await waitFor(
    async () => {
      await master.set('probe', String(Date.now()));
      return Number(await master.call('WAIT', '1', '200')) === 1;
    },
    what,
    30000,
  );
}

async function held(gw: Gateway): Promise<number> {
  const m = await http(`${gw.url}/metrics`);
  return sample(parseExposition(m.text), 'luna_sender_stream_held_entries');
}

async function subscribe(gw: Gateway, query = 'positions=1'): Promise<Client> {
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws?${query}`, { 'Luna-Account-Id': ACCOUNT });
  clients.push(c);
  return c;
}

const label = (frame: string) => (JSON.parse(frame) as { event: { label: string } }).event.label;
const positionOf = (frame: string) => (JSON.parse(frame) as { position: string }).position;
const body = (l: string) => publishBody([{ label: l }]);

/** Publishes with `key` until 201 (a retry after 503 with the same key is the documented way). */
async function publishUntil201(gw: Gateway, l: string, key: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 60; i++) {
    const a = await publish(gw.url, body(l), { 'Idempotency-Key': key }).catch((err: Error) => ({ status: 0, text: err.message }));
    if (a.status === 201) return;
    last = `${a.status} ${a.text}`;
    await sleep(100);
  }
  throw new Error(`publish ${l} never answered 201 (last: ${last})`);
}

test('min replicas 1: no delivery until a replica holds the entry, then once; positions name replicated entries', { timeout: 90_000 }, async () => {
  const master = await startRedis(['--repl-diskless-sync-delay', '0']);
  procs.push(master);
  const link = await startTcpProxy(master.port);
  proxies.push(link);
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(link.port)]);
  procs.push(replica);
  await inSync(admin(master.port), 'the replica in sync and acknowledging');

  const gw = await startGateway({ REDIS_URL: master.url, SENDER_REDIS_MIN_REPLICAS: '1', SENDER_REDIS_TIMEOUT: '1' });
  gateways.push(gw);
  const plain = await startGateway({ REDIS_URL: master.url });
  gateways.push(plain);
  const c = await subscribe(gw);
  const p = await subscribe(plain);

  assert.equal((await publish(gw.url, body('up'), { 'Idempotency-Key': 'r-up' })).status, 201);
  await c.waitFor(1);
  await p.waitFor(1);
  const upToken = positionOf(c.messages[0]);

  // Cut the replication link: the master now has no replica.
  link.drop({ hold: true });
  const a = await publish(gw.url, body('held'), { 'Idempotency-Key': 'r-held' });
  assert.equal(a.status, 503, a.text);
  assert.match(a.text, /may still be delivered/);
  await p.waitFor(2); // on the master: the gateway without min replicas delivered it
  assert.equal(label(p.messages[1]), 'held');
  await waitFor(async () => (await held(gw)) === 1, 'the reader holding the unreplicated entry');
  assert.equal(c.messages.length, 1, 'the unreplicated entry was delivered');
  // A subscription opened now starts after the last delivered entry, not after the held one.
  const late = await subscribe(gw);
  assert.equal(late.headers['luna-stream-position'], upToken, 'the 101 names a position that no replica holds');

  // A worker starting now still starts (its wait for the replicas to confirm its start position
  // is bounded); it starts after the stream's last id, the documented exception (README).
  const fresh = await startGateway({ REDIS_URL: master.url, SENDER_REDIS_MIN_REPLICAS: '1', SENDER_REDIS_TIMEOUT: '1' });
  gateways.push(fresh);
  const f = await subscribe(fresh);

  // The link comes back: the replica catches up, acknowledges, and the entry is delivered once.
  link.restore();
  await c.waitFor(2, 30000);
  await publishUntil201(gw, 'after', 'r-after');
  await publishUntil201(gw, 'held', 'r-held'); // the retry of the 503: appends nothing
  await publishUntil201(gw, 'sentinel', 'r-sentinel');
  await c.waitFor(4);
  await late.waitFor(3);
  assert.deepEqual(c.messages.map(label), ['up', 'held', 'after', 'sentinel']);
  assert.deepEqual(late.messages, c.messages.slice(1), 'the late subscriber received the held entry and what followed, byte for byte');
  assert.equal(await held(gw), 0);
  await f.waitFor(2);
  assert.deepEqual(f.messages.map(label), ['after', 'sentinel']);
  // The positions are those of the stream: the other gateway gave the same ones.
  await p.waitFor(4);
  assert.deepEqual(c.messages.map(positionOf), p.messages.map(positionOf));
});

test('min replicas 1: the master dies holding an unreplicated entry; its retry is the one copy, resume stays exact', { timeout: 120_000 }, async () => {
  const master = await startRedis(['--repl-diskless-sync-delay', '0']);
  procs.push(master);
  const link = await startTcpProxy(master.port);
  proxies.push(link);
  const replica = await startRedis(['--repl-diskless-sync-delay', '0', '--replicaof', '127.0.0.1', String(link.port)]);
  procs.push(replica);
  await inSync(admin(master.port), 'the replica in sync and acknowledging');
  // The gateway reaches "the master" through a proxy that the test points at the promoted replica
  // (what Sentinel does for a gateway with REDIS_SENTINELS; sentinel/failover tests cover that part).
  const front = await startTcpProxy(master.port);
  proxies.push(front);
  const gw = await startGateway({ REDIS_URL: `redis://127.0.0.1:${front.port}`, SENDER_REDIS_MIN_REPLICAS: '1', SENDER_REDIS_TIMEOUT: '1' });
  gateways.push(gw);
  const stays = await subscribe(gw);
  const cut = await subscribe(gw);
  const epoch = String(stays.headers['luna-stream-position']).split(':')[0];

  await publishUntil201(gw, 'before', 'f-before');
  await stays.waitFor(1);
  await cut.waitFor(1);
  const cutToken = positionOf(cut.messages[0]);

  // The replica can no longer have what comes next; the publish is written but unconfirmed.
  link.drop({ hold: true });
  const a = await publish(gw.url, body('lost'), { 'Idempotency-Key': 'f-lost' });
  assert.equal(a.status, 503, a.text);
  assert.match(a.text, /may still be delivered/);
  await waitFor(async () => (await held(gw)) === 1, 'the reader holding the unreplicated entry');

  // The master dies with it; the replica is promoted and gets a replica of its own.
  await master.kill();
  cut.ws.terminate();
  await admin(replica.port).call('REPLICAOF', 'NO', 'ONE');
  front.retarget(replica.port);
  front.drop();
  const spare = await startRedis(['--replicaof', '127.0.0.1', String(replica.port)]);
  procs.push(spare);
  await inSync(admin(replica.port), 'a replica of the promoted node in sync');

  // The publisher retries with its key: the key died with the master, so this appends the one copy.
  await publishUntil201(gw, 'lost', 'f-lost');
  await publishUntil201(gw, 'after', 'f-after');
  await stays.waitFor(3, 30000);
  // `after` is the last event published: once it is here, nothing else is in flight.
  assert.deepEqual(stays.messages.map(label), ['before', 'lost', 'after'], 'each event exactly once');
  const positions = stays.messages.map(positionOf);
  assert.deepEqual(new Set(positions.map((t) => t.split(':')[0])), new Set([epoch]), 'one epoch: the history the subscriber saw survived');
  assert.equal(gw.worker.context.bus.stats().resets, 0, 'the reader never had to go back (nothing it delivered was lost)');

  // The cut subscriber resumes from the last position it was given: exact, on the new master.
  const resumed = await subscribe(gw, `resume=${encodeURIComponent(cutToken)}`);
  await resumed.waitFor(2);
  assert.deepEqual(resumed.messages, stays.messages.slice(1), 'the resume replays exactly what the uninterrupted twin received after the token');
});
