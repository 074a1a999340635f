import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { type EventBatch, encodeBatch } from '../../src/events/index.js';
import { ACCOUNT, EventMaker, nowMs, type PayloadKind, publishBody } from '../fanout/events.js';
import { Load, type Subscription } from '../fanout/harness.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { CLIENT_CPU, request, sleep, startRedis, stop, withProcs } from '../lib/procs.js';
import { startServer } from '../lib/servers.js';
import { fmt, printTable } from '../lib/table.js';

/**
 * Ingest capacity of one worker (product, Redis bus, SENDER_WORKERS=1):
 *
 * read: how many events per second one worker reads from the stream and filters when nothing
 *   matches ("how many cameras can one worker watch"). The account holds one filter (the
 *   sentinel's) or --filters (1000) distinct filters that match none of the events. The worker is
 *   stopped (SIGSTOP), the stream is filled with N entries (XADD, pipelined, the gateway's own
 *   encoding), the worker is continued, and the clock runs until the last entry (the only one
 *   that matches, a sentinel) reaches its socket. Reported: events/s (wall), server CPU per event,
 *   Redis CPU and output MB/s (the stream read).
 *
 * bridge: the LUNA bridge's forwarding rate. Messages of one reference event each (unique
 *   Luna-Request-Id) are PUBLISHed on `luna-sender:<account>` in windows of --window; the next
 *   window goes out once the stream holds the previous one (closed loop, so Redis never buffers
 *   more than a window for the subscriber). forwarded/s = messages / time.
 *
 *   node build/bench/ingest/run.js [--parts read,bridge] [--payload small,full] [--filters 1000]
 *     [--events-small 100000] [--events-full 20000] [--reps 3] [--bridge-seconds 6] [--window 500]
 */
export interface IngestOptions {
  parts: string[];
  payloads: PayloadKind[];
  filters: number;
  eventsSmall: number;
  eventsFull: number;
  reps: number;
  bridgeSeconds: number;
  window: number;
}

export function ingestOptions(a: Map<string, string>): IngestOptions {
  return {
    parts: list(a, 'parts', ['read', 'bridge']),
    payloads: list(a, 'payload', ['small', 'full']) as PayloadKind[],
    filters: num(a, 'filters', 1000),
    eventsSmall: num(a, 'events-small', 100000),
    eventsFull: num(a, 'events-full', 20000),
    reps: num(a, 'reps', 3),
    bridgeSeconds: num(a, 'bridge-seconds', 6),
    window: num(a, 'window', 500),
  };
}

export interface ReadRow {
  payload: PayloadKind;
  filters: number;
  events: number;
  frameBytes: number;
  /** Per rep: events/s (wall), us of server CPU per event. */
  rates: number[];
  usPerEvent: number[];
  redisCpuS: number;
  seconds: number;
}

export interface BridgeRow {
  payload: PayloadKind;
  messages: number;
  seconds: number;
  serverCpuS: number;
  redisCpuS: number;
  loadCpuS: number;
}

const STREAM = 'luna-sender:events';
const SENTINEL_SOURCE = 'sentinel-cam';

/** The sentinel's subscription (matches only the sentinel event), then `filters` distinct filters matching no event. */
export function ingestSubscriptions(filters: number): Subscription[] {
  const subs: Subscription[] = [{ path: `/2/ws?sources=${SENTINEL_SOURCE}`, group: 0 }];
  for (let k = 0; k < filters; k++) subs.push({ path: `/2/ws?sources=nomatch-${k}`, group: 0 });
  return subs;
}

/** The reference event (small or 10 KB) from the sentinel camera: its top-level `source` replaced. */
export function sentinelEvent(maker: EventMaker, ts: number): string {
  return maker.make(0, ts).replace(/"source":"[^"]*"/, `"source":"${SENTINEL_SOURCE}"`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

/** One stream entry's fields, encoded as the gateway's publisher does (frame and msgpack facts). */
function entryOf(eventText: string): { frame: Buffer; facts: Buffer } {
  const raw = Buffer.from(publishBody([eventText]));
  const ev = encodeBatch(ACCOUNT, raw, JSON.parse(raw.toString('utf8')) as EventBatch, `${Math.floor(Date.now() / 1000)},${randomUUID()}`)[0];
  return { frame: Buffer.from(ev.frame), facts: Buffer.from(ev.facts) };
}

async function xaddMany(r: Redis, n: number, e: { frame: Buffer; facts: Buffer }, batch = 1000): Promise<void> {
  for (let done = 0; done < n; ) {
    const p = r.pipeline();
    const k = Math.min(batch, n - done);
    for (let i = 0; i < k; i++) p.xadd(STREAM, '*', 'a', ACCOUNT, 'f', e.frame, 'p', e.facts);
    await p.exec();
    done += k;
  }
}

async function runRead(o: IngestOptions, payload: PayloadKind, filters: number): Promise<ReadRow> {
  return withProcs(async () => {
    const redis = await startRedis();
    const server = await startServer('product', { redisUrl: redis.url, workers: 1 });
    const load = new Load(server, ACCOUNT, redis.proc.pid);
    await load.open(ingestSubscriptions(filters), 1);
    const client = load.clientProcs[0];
    const r = new Redis(redis.url, { enableAutoPipelining: false });
    const maker = new EventMaker(payload);
    const plain = entryOf(maker.make(0, 0));
    const n = payload === 'full' ? o.eventsFull : o.eventsSmall;
    const rates: number[] = [];
    const us: number[] = [];
    let redisCpuS = 0;
    let seconds = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      // A sentinel with a ts unique to this rep: the client records when it arrives.
      const ts = rep + 1;
      const sentinel = entryOf(sentinelEvent(maker, ts));
      await request(client, { cmd: 'track' }, 'track');
      await load.reset();
      process.kill(-server.proc.pid, 'SIGSTOP');
      try {
        await xaddMany(r, n - 1, plain);
        await r.xadd(STREAM, '*', 'a', ACCOUNT, 'f', sentinel.frame, 'p', sentinel.facts);
      } finally {
        process.kill(-server.proc.pid, 'SIGCONT');
      }
      const cpu0 = treeCpuSeconds(server.proc.pid);
      const redis0 = treeCpuSeconds(redis.proc.pid);
      const t0 = nowMs();
      const deadline = performance.now() + 120000;
      let arrived: number | undefined;
      while (arrived === undefined && performance.now() < deadline) {
        await sleep(20);
        const ev = await request<{ events: [number, number, number, number][] }>(client, { cmd: 'events' }, 'events');
        arrived = ev.events.find((e) => e[0] === ts)?.[1];
      }
      if (arrived === undefined) throw new Error(`ingest: sentinel not delivered within 120 s (${payload}, ${filters} filters)`);
      const s = (arrived - t0) / 1000;
      const cpu = treeCpuSeconds(server.proc.pid) - cpu0;
      redisCpuS += treeCpuSeconds(redis.proc.pid) - redis0;
      seconds += s;
      rates.push(n / s);
      us.push((cpu * 1e6) / n);
      process.stderr.write(`ingest: read ${payload} ${filters} filters rep ${rep + 1}: ${fmt(n / s)} ev/s, ${((cpu * 1e6) / n).toFixed(2)} us/event\n`);
      await r.xtrim(STREAM, 'MAXLEN', 0);
    }
    r.disconnect();
    await load.close();
    await stop(server.proc);
    return { payload, filters, events: n, frameBytes: plain.frame.length, rates, usPerEvent: us, redisCpuS, seconds };
  });
}

async function runBridge(o: IngestOptions, payload: PayloadKind): Promise<BridgeRow> {
  return withProcs(async () => {
    const redis = await startRedis();
    const server = await startServer('product', { redisUrl: redis.url, workers: 1, env: { SENDER_STREAM_MAXLEN: '10000000' } });
    const r = new Redis(redis.url);
    // The bridge takes its lease within ttl/3 (1 s) of subscribing.
    const deadline = Date.now() + 15000;
    while ((await r.get('luna-sender:bridge-lease')) === null && Date.now() < deadline) await sleep(100);
    const maker = new EventMaker(payload);
    const channel = `luna-sender:${ACCOUNT}`;
    const message = (i: number) => {
      const body = publishBody([maker.make(i, nowMs())]);
      return `${body.slice(0, -1)},"Luna-Request-Id":"${Math.floor(Date.now() / 1000)},${randomUUID()}"}`;
    };
    // This process is the publisher here: on the load CPU, with the other load generators.
    try {
      execFileSync('taskset', ['-pc', CLIENT_CPU, String(process.pid)], { stdio: 'ignore' });
    } catch {
      /* not pinned; the load-gen CPU column still shows its cost */
    }
    const cpu0 = treeCpuSeconds(server.proc.pid);
    const redis0 = treeCpuSeconds(redis.proc.pid);
    const own0 = process.cpuUsage();
    const base = await r.xlen(STREAM);
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < o.bridgeSeconds * 1000) {
      const p = r.pipeline();
      for (let i = 0; i < o.window; i++) p.publish(channel, message(sent + i));
      await p.exec();
      sent += o.window;
      const wait = performance.now() + 30000;
      while ((await r.xlen(STREAM)) - base < sent && performance.now() < wait) await sleep(2);
    }
    const seconds = (performance.now() - t0) / 1000;
    const forwarded = (await r.xlen(STREAM)) - base;
    const own = process.cpuUsage(own0);
    const row = {
      payload,
      messages: forwarded,
      seconds,
      serverCpuS: treeCpuSeconds(server.proc.pid) - cpu0,
      redisCpuS: treeCpuSeconds(redis.proc.pid) - redis0,
      loadCpuS: (own.user + own.system) / 1e6,
    };
    if (forwarded < sent) process.stderr.write(`ingest: bridge ${payload}: ${sent - forwarded} of ${sent} messages not forwarded\n`);
    process.stderr.write(`ingest: bridge ${payload}: ${fmt(forwarded / seconds)} forwarded/s\n`);
    r.disconnect();
    await stop(server.proc);
    return row;
  });
}

export async function runIngest(o: IngestOptions): Promise<{ read: ReadRow[]; bridge: BridgeRow[] }> {
  const read: ReadRow[] = [];
  const bridge: BridgeRow[] = [];
  if (o.parts.includes('read')) for (const payload of o.payloads) for (const f of [0, o.filters]) read.push(await runRead(o, payload, f));
  if (o.parts.includes('bridge')) for (const payload of o.payloads) bridge.push(await runBridge(o, payload));
  return { read, bridge };
}

export function printIngest(o: IngestOptions, r: { read: ReadRow[]; bridge: BridgeRow[] }): void {
  if (r.read.length > 0)
    printTable(
      `Ingest: one worker reads and filters a pre-filled stream, nothing matches but the last entry; median of ${o.reps}`,
      ['payload', 'frame bytes', 'filters in the account', 'events', 'events/s per rep', 'events/s', 'server us/event', 'redis CPU s', 'redis out MB/s'],
      r.read.map((x) => [
        x.payload,
        x.frameBytes,
        x.filters + 1,
        x.events,
        x.rates.map((v) => fmt(v)).join(', '),
        median(x.rates),
        median(x.usPerEvent),
        x.redisCpuS,
        (x.events * x.rates.length * x.frameBytes) / x.seconds / 1e6,
      ]),
    );
  if (r.bridge.length > 0)
    printTable(
      `LUNA bridge: one event per PUBLISHed message, closed loop in windows of ${o.window}, ${o.bridgeSeconds} s; the worker also reads every event back (no subscribers)`,
      ['payload', 'messages forwarded', 'forwarded/s', 'worker CPU %', 'worker us/message', 'redis CPU %', 'load-gen CPU %'],
      r.bridge.map((x) => [
        x.payload,
        x.messages,
        x.messages / x.seconds,
        (x.serverCpuS / x.seconds) * 100,
        (x.serverCpuS * 1e6) / x.messages,
        (x.redisCpuS / x.seconds) * 100,
        (x.loadCpuS / x.seconds) * 100,
      ]),
    );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = ingestOptions(parseArgs());
  runIngest(o).then(
    (r) => {
      printIngest(o, r);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`ingest: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
