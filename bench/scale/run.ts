import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { ACCOUNT, EventMaker, nowMs, publishBody } from '../fanout/events.js';
import { Load, type Subscription } from '../fanout/harness.js';
import { num, parseArgs } from '../lib/args.js';
import { postPublish } from '../lib/post-publish.js';
import { treeCpuSeconds, treeCpuSplit, treeRssBytes } from '../lib/proc.js';
import { request, sleep, startRedis, stop, withProcs } from '../lib/procs.js';
import { sourceIps } from '../lib/seq-procs.js';
import { startServer } from '../lib/servers.js';
import { fmt, printTable } from '../lib/table.js';

/**
 * Many subscribers on one host: N WebSocket subscriptions on W workers (product, Redis bus), with
 * F distinct filters that all match the broadcast event (`sources=cam-12,cam-x<k>`; the small
 * reference event comes from cam-12), held by several client processes bound to 127.0.0.1..k
 * (each source address has its own ~28k ephemeral ports). Measures:
 *  - connect: wall time, server CPU, upgrades per second of server CPU;
 *  - memory: server RSS before and after, bytes per subscription;
 *  - broadcast: E events published one at a time (each once the previous reached everyone); per
 *    event, publish to first and to last frame received (CLOCK_MONOTONIC, shared by every process:
 *    events.ts nowMs), p50/p99; the server's user and kernel CPU per frame sent.
 * File limits: one process holds at most its hard RLIMIT_NOFILE of sockets. Server and clients are
 * spawned through `prlimit --nofile=<nofile>` where that works (root with CAP_SYS_RESOURCE);
 * otherwise (this machine: hard limit 20000, not raisable) the sockets are spread over enough
 * workers (SENDER_WORKERS, sharing the port) and client processes: --per-proc (19000) each.
 *
 *   node build/bench/scale/run.js [--subs 100000] [--filters 1000] [--workers auto] [--clients auto]
 *     [--source-ips auto] [--spread dest|source] [--events 50] [--concurrency 64] [--nofile 0] [--per-proc 19000]
 */
export interface ScaleOptions {
  subs: number;
  filters: number;
  workers: number;
  clients: number;
  sourceIps: number;
  events: number;
  concurrency: number;
  nofile: number;
  /** 'dest' (default): the server listens on 0.0.0.0 and clients connect to 127.0.0.1..k;
   * 'source': clients bind to source addresses 127.0.0.1..k (slow past ~15k per address). */
  spread: string;
}

export function scaleOptions(a: Map<string, string>): ScaleOptions {
  const subs = num(a, 'subs', 100000);
  const nofile = num(a, 'nofile', 0);
  // Sockets one process may hold: the fd limit it will get, less room for its other files.
  const perProc = nofile > 0 ? nofile - 1000 : num(a, 'per-proc', 19000);
  const procs = Math.max(1, Math.ceil(subs / perProc));
  return {
    subs,
    filters: num(a, 'filters', 1000),
    workers: num(a, 'workers', procs),
    clients: num(a, 'clients', procs),
    // 28k ports per address, with room to spare.
    sourceIps: num(a, 'source-ips', Math.max(2, Math.ceil(subs / 20000))),
    events: num(a, 'events', 50),
    concurrency: num(a, 'concurrency', 64),
    nofile,
    spread: a.get('spread') ?? 'dest',
  };
}

export interface ScaleResult {
  opened: number;
  connectS: number;
  connectServerCpuS: number;
  connectLoadCpuPct: number;
  rssBeforeMb: number;
  rssHalfMb: number;
  rssAfterMb: number;
  bytesPerSub: number;
  events: number;
  /** Per event: ms from publish to the first / the last frame anywhere. */
  first: number[];
  last: number[];
  missing: number;
  serverUserS: number;
  serverSysS: number;
  redisCpuS: number;
  broadcastLoadCpuPct: number;
  frames: number;
  error?: string;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** The subscriptions: F distinct filters, every one matching the small reference event (source cam-12). */
export function broadcastSubscriptions(n: number, filters: number): Subscription[] {
  return Array.from({ length: n }, (_, j) => ({ path: `/2/ws?sources=cam-12,cam-x${j % filters}`, group: 0 }));
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  return withProcs(async () => {
    const redis = await startRedis();
    const server = await startServer('product', {
      redisUrl: redis.url,
      workers: o.workers,
      nofile: o.nofile > 0 ? o.nofile : undefined,
      // The product refuses upgrades past SENDER_MAX_CONNECTIONS per worker (503); the kernel's
      // SO_REUSEPORT spread is not exactly even, so allow some slack.
      env: {
        SENDER_MAX_CONNECTIONS: String(Math.ceil((o.subs / o.workers) * 1.2) + 100),
        ...(o.spread === 'dest' ? { SENDER_HOST: '0.0.0.0' } : {}),
      },
    });
    const pid = server.proc.pid;
    const load = new Load(server, ACCOUNT, redis.proc.pid);
    await sleep(1000);
    const rss0 = treeRssBytes(pid);
    const cpu0 = treeCpuSeconds(pid);
    const lc0 = load.loadCpu();
    const t0 = performance.now();
    let error: string | undefined;
    // Two waves, RSS read after each: the slope over the second wave is the cost of a subscription,
    // free of what the workers' start-up heap gives back meanwhile (with several workers that
    // exceeded the first wave's growth: RSS after 100k was below RSS at start).
    const subsAll = broadcastSubscriptions(o.subs, o.filters);
    const half = Math.floor(o.subs / 2);
    const waveClients = Math.max(1, Math.ceil(o.clients / 2));
    let rssHalf = 0;
    let pausedMs = 0;
    try {
      for (const wave of [subsAll.slice(0, half), subsAll.slice(half)]) {
        await load.open(wave, waveClients, o.concurrency, {
          ...(o.spread === 'dest' ? { destIps: sourceIps(o.sourceIps) } : { sourceIps: sourceIps(o.sourceIps) }),
          nofile: o.nofile > 0 ? o.nofile : undefined,
          timeoutMs: 3_600_000,
        });
        if (rssHalf === 0) {
          await sleep(3000);
          pausedMs = 3000;
          rssHalf = treeRssBytes(pid);
        }
      }
    } catch (err) {
      error = (err as Error).message.split('\n')[0];
    }
    const connectS = (performance.now() - t0 - pausedMs) / 1000;
    const connectServerCpuS = treeCpuSeconds(pid) - cpu0;
    const connectLoadCpuPct = ((load.loadCpu() - lc0) / connectS) * 100;
    const procs = load.clientProcs;
    const total = async () => (await Promise.all(procs.map((p) => request<{ total: number }>(p, { cmd: 'total' }, 'total')))).reduce((a, r) => a + r.total, 0);
    process.stderr.write(
      `scale: ${o.subs} subscriptions opened in ${connectS.toFixed(1)} s (${connectServerCpuS.toFixed(1)} s server CPU)${error ? `; ${error}` : ''}\n`,
    );
    // Let the last open handlers run and the allocator settle before reading RSS.
    await sleep(3000);
    const rss1 = treeRssBytes(pid);
    const opened = error === undefined ? o.subs : 0;
    const result: ScaleResult = {
      opened,
      connectS,
      connectServerCpuS,
      connectLoadCpuPct,
      rssBeforeMb: rss0 / 2 ** 20,
      rssHalfMb: rssHalf / 2 ** 20,
      rssAfterMb: rss1 / 2 ** 20,
      bytesPerSub: (rss1 - rssHalf) / (o.subs - half),
      events: 0,
      first: [],
      last: [],
      missing: 0,
      serverUserS: 0,
      serverSysS: 0,
      redisCpuS: 0,
      broadcastLoadCpuPct: NaN,
      frames: 0,
      error,
    };
    if (error !== undefined) return result;
    await Promise.all(procs.map((p) => request(p, { cmd: 'track' }, 'track')));
    const maker = new EventMaker('small');
    const agent = new Agent({ keepAlive: true });
    const s0 = treeCpuSplit(pid);
    const r0 = treeCpuSeconds(redis.proc.pid);
    const b0 = load.loadCpu();
    const tb = performance.now();
    let expected = 0;
    for (let e = 0; e < o.events; e++) {
      const ts = nowMs();
      await new Promise<void>((resolve, reject) =>
        postPublish(server.port, ACCOUNT, agent, publishBody([maker.make(e, ts)]), (err) => (err === undefined ? resolve() : reject(new Error(err)))),
      );
      expected += o.subs;
      // Wait until every subscriber has it (bounded: a lost frame would otherwise hang the run).
      const deadline = performance.now() + 60000;
      let seen = await total();
      while (seen < expected && performance.now() < deadline) {
        await sleep(20);
        seen = await total();
      }
      if (seen < expected) {
        result.missing += expected - seen;
        expected = seen;
      }
    }
    const bs = (performance.now() - tb) / 1000;
    const s1 = treeCpuSplit(pid);
    result.serverUserS = s1.user - s0.user;
    result.serverSysS = s1.sys - s0.sys;
    result.redisCpuS = treeCpuSeconds(redis.proc.pid) - r0;
    result.broadcastLoadCpuPct = ((load.loadCpu() - b0) / bs) * 100;
    result.frames = expected;
    agent.destroy();
    const all = await Promise.all(procs.map((p) => request<{ events: [number, number, number, number][] }>(p, { cmd: 'events' }, 'events', 120000)));
    const byTs = new Map<number, [number, number]>();
    for (const r of all)
      for (const [ts, first, last] of r.events) {
        const t = byTs.get(ts);
        if (t === undefined) byTs.set(ts, [first, last]);
        else byTs.set(ts, [Math.min(t[0], first), Math.max(t[1], last)]);
      }
    for (const [ts, [first, last]] of byTs) {
      result.first.push(first - ts);
      result.last.push(last - ts);
    }
    result.events = byTs.size;
    await load.close();
    await stop(server.proc);
    return result;
  });
}

export function printScale(o: ScaleOptions, r: ScaleResult): void {
  printTable(
    `Scale: ${fmt(o.subs)} subscriptions on ${o.workers} worker${o.workers === 1 ? '' : 's'} (product, Redis bus, all on one core), ${o.filters} distinct filters, ${o.clients} client processes, ${o.sourceIps} ${o.spread === 'dest' ? 'server' : 'source'} addresses`,
    [
      'subscriptions',
      'connect s',
      'upgrades/s (wall)',
      'server CPU s',
      'upgrades per server CPU s',
      'load-gen CPU %',
      'RSS at 0 MB',
      'RSS at half MB',
      'RSS at all MB',
      'bytes/sub (2nd half)',
      'error',
    ],
    [
      [
        r.opened,
        r.connectS,
        r.opened / r.connectS,
        r.connectServerCpuS,
        r.opened / r.connectServerCpuS,
        r.connectLoadCpuPct,
        r.rssBeforeMb,
        r.rssHalfMb,
        r.rssAfterMb,
        r.bytesPerSub,
        r.error ?? '-',
      ],
    ],
  );
  if (r.events === 0) return;
  const us = (s: number) => (s * 1e6) / r.frames;
  printTable(
    `Broadcast: ${r.events} events one at a time, each matching all ${fmt(o.subs)} subscriptions; ms from publish to the first / last frame received (CLOCK_MONOTONIC); server CPU per frame sent`,
    [
      'events',
      'frames',
      'missing',
      'first p50 ms',
      'first p99 ms',
      'last p50 ms',
      'last p99 ms',
      'server user us/frame',
      'server kernel us/frame',
      'kernel share',
      'redis CPU s',
      'load-gen CPU %',
    ],
    [
      [
        r.events,
        r.frames,
        r.missing,
        quantile(r.first, 0.5),
        quantile(r.first, 0.99),
        quantile(r.last, 0.5),
        quantile(r.last, 0.99),
        us(r.serverUserS),
        us(r.serverSysS),
        `${((r.serverSysS / (r.serverUserS + r.serverSysS)) * 100).toFixed(0)} %`,
        r.redisCpuS,
        r.broadcastLoadCpuPct,
      ],
    ],
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = scaleOptions(parseArgs());
  runScale(o).then(
    (r) => {
      printScale(o, r);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`scale: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
