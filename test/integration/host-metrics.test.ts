import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { metricsDir } from '../../src/host-metrics.js';
import { type Family, parseExposition, sample } from '../helpers/exposition.js';
import { spawnGateway } from '../helpers/gateway.js';
import { ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { scrapeOnce, startPm2 } from '../helpers/pm2.js';
import { freePort } from '../helpers/port.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * /metrics is the host's figures whichever worker answers (SPEC 11; src/host-metrics.ts): two
 * workers under the supervisor and under PM2 get known traffic, then the port is scraped over fresh
 * connections until two different workers gave the expected totals; both must agree.
 */

/** Figures that known traffic fixes exactly (the scrapes themselves move only http_requests). */
const FIXED = [
  'luna_sender_connections_total',
  'luna_sender_open_connections',
  'luna_sender_published_events_total',
  'luna_sender_publish_requests_total',
  'luna_sender_deliveries_total',
  'luna_sender_sent_bytes_total',
  'luna_sender_events_in_total',
  'luna_sender_delivery_latency_seconds_count',
  'luna_sender_publish_latency_seconds_count',
  'luna_sender_workers{state="live"}',
] as const;

type Figures = Record<(typeof FIXED)[number], number>;

function figures(m: Map<string, Family>): Figures {
  return Object.fromEntries(FIXED.map((k) => [k, sample(m, k)])) as Figures;
}

/** Subscribers (spread over the workers by the kernel), `events` events in `batches` publishes, all received. */
async function traffic(port: number, sockets: number, events: number, batches: number): Promise<Client[]> {
  // Every worker reads the stream before the first publish, so each reads every event (spawnGateway
  // returns when the first worker listens).
  await waitFor(async () => {
    const got = await scrapeOnce(port);
    return got !== undefined && sample(parseExposition(got.text), 'luna_sender_workers{state="live"}') === 2;
  }, 'both workers live');
  const clients = await Promise.all(Array.from({ length: sockets }, () => connect(`ws://127.0.0.1:${port}/2/ws`, { 'Luna-Account-Id': ACCOUNT })));
  const per = events / batches;
  for (let b = 0; b < batches; b++) {
    const r = await publish(`http://127.0.0.1:${port}`, publishBody(Array.from({ length: per }, (_, i) => ({ seq: b * per + i }))));
    assert.equal(r.status, 201, r.text);
  }
  await Promise.all(clients.map((c) => c.waitFor(events)));
  return clients;
}

/** What `traffic` implies for the host, with `workers` workers each reading every event. */
function expected(clients: Client[], events: number, batches: number, workers: number): Figures {
  const frames = clients.flatMap((c) => c.messages);
  return {
    luna_sender_connections_total: clients.length,
    luna_sender_open_connections: clients.length,
    luna_sender_published_events_total: events,
    luna_sender_publish_requests_total: batches,
    luna_sender_deliveries_total: frames.length,
    luna_sender_sent_bytes_total: frames.reduce((n, f) => n + Buffer.byteLength(f), 0),
    luna_sender_events_in_total: events * workers,
    // Observed by each worker holding a subscriber of the event (which ones, the kernel chose):
    // checked apart, in `agreeing`.
    luna_sender_delivery_latency_seconds_count: Number.NaN,
    luna_sender_publish_latency_seconds_count: batches,
    'luna_sender_workers{state="live"}': workers,
  };
}

/** Scrapes until `n` different workers answered with `want`; returns their figures by pid. */
async function agreeing(port: number, want: Figures, n = 2): Promise<Map<string, Figures>> {
  const seen = new Map<string, Figures>();
  let last: Figures | undefined;
  await waitFor(
    async () => {
      const got = await scrapeOnce(port);
      if (got === undefined) return false;
      const now = figures(parseExposition(got.text));
      last = now;
      const latency = now.luna_sender_delivery_latency_seconds_count;
      const events = want.luna_sender_published_events_total;
      const workers = want['luna_sender_workers{state="live"}'];
      if (latency % events !== 0 || latency < events || latency > events * workers) return false;
      if (JSON.stringify({ ...now, luna_sender_delivery_latency_seconds_count: Number.NaN }) !== JSON.stringify(want)) return false;
      // Every answering worker must give the same count.
      if ([...seen.values()].some((f) => f.luna_sender_delivery_latency_seconds_count !== latency)) {
        throw new Error(`workers disagree on the delivery latency count: ${JSON.stringify([...seen.values()])} vs ${JSON.stringify(now)}`);
      }
      seen.set(got.pid, now);
      return seen.size >= n;
    },
    `${n} workers agreeing on ${JSON.stringify(want)}`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
  return seen;
}

test('under the supervisor: two workers answer the same host totals; a killed worker does not take its counts along', async () => {
  const redis = await startRedis();
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2' });
  try {
    const clients = await traffic(gw.port, 6, 12, 3);
    const want = expected(clients, 12, 3, 2);
    const seen = await agreeing(gw.port, want);
    assert.equal(seen.size, 2);

    // SIGKILL one worker: its final counts stay in the host's (its snapshot, then retired.json);
    // its sockets are gone, so the gauges drop; its replacement starts from zero.
    const victim = [...seen.keys()][0];
    process.kill(Number(victim), 'SIGKILL');
    let after: Map<string, Family> | undefined;
    await waitFor(async () => {
      const got = await scrapeOnce(gw.port);
      if (got === undefined || got.pid === victim) return false;
      after = parseExposition(got.text);
      // SIGKILL takes effect a moment after kill() returns: until then the victim is still live.
      const victimShown = [...after.get('process_resident_memory_bytes')!.samples.keys()].some((k) => k.includes(`worker="${victim}"`));
      return !victimShown && sample(after, 'luna_sender_workers{state="live"}') === 2;
    }, 'the killed worker gone and its replacement live');
    // The replacement reads only events appended after it started: none.
    const m = after!;
    const before = seen.get(victim)!;
    for (const k of [
      'luna_sender_connections_total',
      'luna_sender_deliveries_total',
      'luna_sender_sent_bytes_total',
      'luna_sender_published_events_total',
      'luna_sender_delivery_latency_seconds_count',
    ] as const) {
      assert.equal(sample(m, k), before[k], `${k} after the kill`);
    }
    assert.equal(sample(m, 'luna_sender_events_in_total'), want.luna_sender_events_in_total);
    // Its sockets are gone: the open-connections gauge counts only the sockets still open.
    const closed = new Set<Client>();
    for (const c of clients) void c.closed.then(() => closed.add(c));
    await waitFor(async () => {
      const got = await scrapeOnce(gw.port);
      return got !== undefined && sample(parseExposition(got.text), 'luna_sender_open_connections') === clients.length - closed.size;
    }, 'the open-connections gauge without the killed worker');
    // Per-worker process figures: the surviving worker and the replacement, not the killed one.
    assert.equal(m.get('process_resident_memory_bytes')!.samples.size, 2);
    for (const c of clients) c.close();
  } finally {
    await gw.stop('SIGTERM');
    await redis.stop();
  }
});

test('a stopped (SIGSTOP) worker is counted as stale with its last figures; the other answers meanwhile', async () => {
  const redis = await startRedis();
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2' });
  let stopped: number | undefined;
  try {
    const clients = await traffic(gw.port, 4, 4, 2);
    const want = expected(clients, 4, 2, 2);
    const seen = await agreeing(gw.port, want);
    stopped = Number([...seen.keys()][0]);
    process.kill(stopped, 'SIGSTOP');
    // Connections the kernel gives the stopped worker hang until SIGCONT: those scrapes are given up.
    let m: Map<string, Family> | undefined;
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${gw.port}/metrics`, { headers: { Connection: 'close' }, signal: AbortSignal.timeout(1000) }).catch(
        () => undefined,
      );
      if (r === undefined) return false;
      const text = await r.text();
      if (r.headers.get('luna-sender-worker') === String(stopped)) return false;
      m = parseExposition(text);
      return sample(m, 'luna_sender_workers{state="stale"}') === 1;
    }, 'the stopped worker reported stale');
    assert.equal(sample(m!, 'luna_sender_workers{state="live"}'), 1);
    assert.deepEqual({ ...figures(m!), 'luna_sender_workers{state="live"}': 2 }, seen.get(String(stopped))!, 'the stale worker still counts as it last was');
    process.kill(stopped, 'SIGCONT');
    stopped = undefined;
    await agreeing(gw.port, want);
    for (const c of clients) c.close();
    // Both workers stop at once: the last of them leaves nothing in /dev/shm.
    assert.ok(existsSync(metricsDir(gw.port)));
    assert.equal(await gw.stop('SIGTERM'), 0);
    assert.equal(existsSync(metricsDir(gw.port)), false, 'the snapshot directory removed by the last worker');
  } finally {
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    await gw.stop('SIGTERM');
    await redis.stop();
  }
});

test('under PM2 (fork mode, no common parent): two workers answer the same host totals, and keep them across pm2 reload', async () => {
  const redis = await startRedis();
  const port = await freePort();
  const pm2 = startPm2(port, redis.url);
  try {
    const clients = await traffic(port, 6, 10, 2);
    const seen = await agreeing(port, expected(clients, 10, 2, 2));
    assert.equal(seen.size, 2);
    const before = [...seen.values()][0];

    // `pm2 reload` replaces both workers: the host counters carry on from where they were.
    const reload = pm2.run(['reload', 'luna-sender'], 90000);
    assert.equal(reload.status, 0, String(reload.stderr));
    await Promise.all(clients.map((c) => c.closed));
    let m: Map<string, Family> | undefined;
    await waitFor(async () => {
      const got = await scrapeOnce(port);
      if (got === undefined || seen.has(got.pid)) return false;
      m = parseExposition(got.text);
      return sample(m, 'luna_sender_workers{state="live"}') === 2 && sample(m, 'luna_sender_open_connections') === 0;
    }, 'the new workers live, the old sockets gone');
    for (const k of [
      'luna_sender_connections_total',
      'luna_sender_deliveries_total',
      'luna_sender_sent_bytes_total',
      'luna_sender_events_in_total',
      'luna_sender_published_events_total',
    ] as const) {
      assert.equal(sample(m!, k), before[k], `${k} across pm2 reload`);
    }
    assert.equal(sample(m!, 'luna_sender_ws_closes_total{code="1001"}'), clients.length, 'the old workers closed every socket with 1001');
    assert.ok(
      ![...m!.get('process_resident_memory_bytes')!.samples.keys()].some((k) => [...seen.keys()].some((pid) => k.includes(`"${pid}"`))),
      'no series of the old workers',
    );
  } finally {
    pm2.stop();
    await redis.stop();
  }
});
