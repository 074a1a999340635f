import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds, treeRssBytes } from '../lib/proc.js';
import { BUILD, CLIENT_CPU, nodeScript, type Proc, sleep, startRedis, stopAll } from '../lib/procs.js';
import { startServer } from '../lib/servers.js';
import { histQuantile, newHist } from '../lib/stats.js';
import { type Cell, renderTable } from '../lib/table.js';
import { ACCOUNT } from './events.js';
import { closeProbe, scrapeMetrics, versionLatencyMs } from './http-probe.js';
import { LATENCY_RULE, latencyLimit, RSS_RULE, rssLimit, type Trend, trend } from './trend.js';

/**
 * Soak: the gateway (one worker, Redis bus) under a steady publish rate with subscribers that
 * keep connecting and leaving, sampled every `--sample` seconds for `--minutes`; prints the
 * samples and the growth trend of RSS and latency over the second half of the run.
 *
 *   node build/bench/soak/run.js [--minutes 10] [--rate 1000] [--batch 10] [--subscribers 500]
 *                               [--churn 10] [--clients 2] [--sample 10]  (env SOAK_SERVER_NODE_FLAGS: node flags for the server)
 *
 * Server and Redis on CPU 0, subscriber and publisher children and this orchestrator on CPU 1
 * (taskset). Only 127.0.0.1; every child is killed at the end, on error and on Ctrl-C, and the
 * whole run is bounded by a watchdog at minutes + 3.
 */
const args = parseArgs();
function bounded(key: string, dflt: number, lo: number, hi: number): number {
  const v = num(args, key, dflt);
  if (!(v >= lo && v <= hi)) throw new Error(`--${key} must be within ${lo}..${hi}, got ${v}`);
  return v;
}
const MINUTES = bounded('minutes', 10, 0.2, 120);
const RATE = bounded('rate', 1000, 1, 100_000);
const BATCH = Math.round(bounded('batch', 10, 1, 1000));
const SUBS = Math.round(bounded('subscribers', 500, 0, 20_000));
const CHURN = Math.round(bounded('churn', 10, 0, Math.max(SUBS, 0)));
const CLIENTS = Math.round(bounded('clients', 2, 1, 4));
const SAMPLE_S = bounded('sample', 10, 2, 60);
/** Extra node flags for the server (env, since flag values start with `--`), e.g. V8 heap sizing. */
const SERVER_NODE_FLAGS = (process.env.SOAK_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** GET /version probes: one every 500 ms, i.e. 20 per 10 s sample. */
const PROBE_MS = 500;

interface Sample {
  tMin: number;
  rssMb: number;
  cpuPct: number;
  redisCpuPct: number;
  loadGenCpuPct: number;
  redisRssMb: number;
  /** 1-minute load average of the machine: the neighbours' load shows here (2 CPUs, shared). */
  load1: number;
  verP50: number;
  verP99: number;
  verFail: number;
  eldP99: number;
  eldMax: number;
  heapFloorMb: number;
  heapTotalMb: number;
  externalMb: number;
  pubEvS: number;
  pubFail: number;
  pubSkip: number;
  reqP99: number;
  delivS: number;
  latP50: number;
  latP99: number;
  latMax: number;
  conns: number;
  filters: number;
  compiled: number;
  held: number;
  opened: number;
  closed: number;
  unexpected: number;
  openFail: number;
  slowCloses: number;
  notes: string[];
}

interface SubSample {
  held: number;
  frames: number;
  maxMs: number;
  hist: number[];
  opened: number;
  closedByUs: number;
  openFailed: number;
  churnSkipped: number;
  unexpected: number;
  unexpectedCodes: Record<string, number>;
  firstError?: string;
}

interface PubSample {
  acked: number;
  failed: number;
  skipped: number;
  reqP99Ms: number;
  firstError?: string;
}

const samples: Sample[] = [];
let reported = false;

/** Waits for the next IPC message of a type (children announce `ready` on start-up). */
function nextMessage<T>(p: Proc, type: string, timeoutMs = 30000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: unknown) => {
      const r = m as { type?: string; error?: string };
      if (r.type === 'error') done(new Error(`${p.name}: ${r.error}`));
      else if (r.type === type) done(undefined, m as T);
    };
    const onExit = () => done(new Error(`${p.name} exited waiting for ${type}\n${p.tail()}`));
    const timer = setTimeout(() => done(new Error(`${p.name}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err?: Error, v?: T) => {
      clearTimeout(timer);
      p.child.off('message', onMsg);
      p.child.off('exit', onExit);
      if (err) reject(err);
      else resolve(v as T);
    };
    p.child.on('message', onMsg);
    p.child.once('exit', onExit);
  });
}

function ask<T>(p: Proc, msg: object, type: string, timeoutMs = 30000): Promise<T> {
  const r = nextMessage<T>(p, type, timeoutMs);
  p.child.send(msg);
  return r;
}

function quantile(xs: number[], q: number): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)];
}

/** Pins this process (all its threads) to the load-generator CPU, so it does not compete with the server. */
function pinSelf(): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', CLIENT_CPU, String(process.pid)], { stdio: 'ignore' });
  } catch {
    process.stderr.write('soak: taskset not available; the orchestrator is not pinned\n');
  }
}

function versions(): string {
  let redis = '?';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    /* reported as ? */
  }
  let model = '?';
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  } catch {
    /* reported as ? */
  }
  return `node ${process.version}, redis ${redis}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs (${model})`;
}

function loadAvg1(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

function f(x: number, d = 1): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

function verdict(t: Trend): string {
  if (t.ok) return 'no growth trend';
  if (!Number.isFinite(t.slopePerMin)) return 'not enough samples';
  return t.slopePerMin > 0 ? 'GROWTH TREND' : 'falling (not steady yet)';
}

function trendLine(name: string, unit: string, t: Trend): string {
  return `${name}: slope ${f(t.slopePerMin, 3)} ${unit}/min over the 2nd half, mean ${f(t.mean, 2)} ${unit}; implied change over the run ${f(t.impliedGrowth, 2)} ${unit} vs limit ${f(t.limit, 2)} ${unit}: ${verdict(t)}`;
}

function report(elapsedMin: number): void {
  if (reported) return;
  reported = true;
  const rows: Cell[][] = samples.map((s) => [
    f(s.tMin, 2),
    f(s.rssMb),
    f(s.heapFloorMb),
    f(s.heapTotalMb),
    f(s.externalMb),
    f(s.cpuPct, 0),
    f(s.redisCpuPct, 0),
    f(s.loadGenCpuPct, 0),
    f(s.redisRssMb),
    f(s.load1, 2),
    f(s.verP50, 2),
    f(s.verP99, 2),
    f(s.eldP99, 1),
    f(s.eldMax, 1),
    f(s.pubEvS, 0),
    f(s.delivS / 1000, 1),
    f(s.latP50, 1),
    f(s.latP99, 1),
    f(s.latMax, 0),
    String(s.conns),
    String(s.filters),
    String(s.compiled),
    `${s.opened}/${s.closed}`,
    `${s.pubFail}/${s.pubSkip}/${s.unexpected}/${s.openFail}/${s.slowCloses}`,
  ]);
  process.stdout.write(
    renderTable(
      `Soak samples (every ${SAMPLE_S} s)`,
      [
        'min',
        'RSS MB',
        'heap floor MB',
        'heap total MB',
        'external MB',
        'CPU %',
        'redis CPU %',
        'load-gen CPU %',
        'redis MB',
        'load avg',
        '/version p50 ms',
        '/version p99 ms',
        'ELD p99 ms',
        'ELD max ms',
        'pub ev/s',
        'deliv k/s',
        'lat p50 ms',
        'lat p99 ms',
        'lat max ms',
        'conns',
        'filters',
        'compiled',
        'opened/closed',
        'errors f/s/u/o/slow',
      ],
      rows,
    ),
  );
  const notes = samples.flatMap((s) => s.notes.map((n) => `  ${f(s.tMin, 2)} min: ${n}`));
  if (notes.length > 0) process.stdout.write(`\nNotes:\n${notes.slice(0, 30).join('\n')}\n`);
  const run = elapsedMin;
  const xs = samples.map((s) => s.tMin);
  const rss = trend(
    xs,
    samples.map((s) => s.rssMb),
    run,
    rssLimit,
    true,
  );
  const heap = trend(
    xs,
    samples.map((s) => s.heapFloorMb),
    run,
    rssLimit,
    true,
  );
  const redis = trend(
    xs,
    samples.map((s) => s.redisRssMb),
    run,
    rssLimit,
    true,
  );
  const lat = trend(
    xs,
    samples.map((s) => s.latP99),
    run,
    latencyLimit,
    false,
  );
  const ver = trend(
    xs,
    samples.map((s) => s.verP99),
    run,
    latencyLimit,
    false,
  );
  const eld = trend(
    xs,
    samples.map((s) => s.eldP99),
    run,
    latencyLimit,
    false,
  );
  const sum = (k: keyof Sample) => samples.reduce((a, s) => a + (s[k] as number), 0);
  process.stdout.write(
    [
      '',
      `### Trend (run ${f(run, 2)} min, ${samples.length} samples)`,
      '',
      `Rule, RSS: ${RSS_RULE}.`,
      `Rule, latencies: ${LATENCY_RULE}.`,
      '',
      `- ${trendLine('server RSS', 'MB', rss)}`,
      `- ${trendLine('server V8 heap floor', 'MB', heap)} (same rule; informational)`,
      `- ${trendLine('redis RSS', 'MB', redis)} (same rule; informational)`,
      `- ${trendLine('publish-to-receive p99', 'ms', lat)}`,
      `- ${trendLine('GET /version p99', 'ms', ver)}`,
      `- ${trendLine('event-loop delay p99 (in-process probe)', 'ms', eld)}`,
      '',
      `Totals: ${f(sum('pubEvS') * SAMPLE_S, 0)} events published (201), ${f(sum('delivS') * SAMPLE_S, 0)} frames received, ` +
        `${sum('opened')} sockets opened and ${sum('closed')} closed by churn; errors: ${sum('pubFail')} failed publishes, ` +
        `${sum('pubSkip')} skipped batches, ${sum('unexpected')} unexpected closes, ${sum('openFail')} failed opens, ` +
        `${sum('slowCloses')} slow-consumer closes, ${sum('verFail')} failed /version probes.`,
      '',
      `VERDICT: server RSS: ${verdict(rss)} (${RSS_RULE}); publish-to-receive p99: ${verdict(lat)}; event-loop delay p99: ${verdict(eld)}.`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  // Registered before the first child is started, so it runs before bench/lib's handler, which
  // kills every child and exits: Ctrl-C still prints what was sampled.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      process.stdout.write(`\nsoak: ${sig}, stopping; partial report:\n`);
      report(samples.at(-1)?.tMin ?? 0);
    });
  const started = Date.now();
  const watchdog = setTimeout(
    () => {
      process.stderr.write('soak: watchdog: run exceeded its time bound; killing everything\n');
      report(samples.at(-1)?.tMin ?? 0);
      void stopAll().finally(() => process.exit(2));
    },
    (MINUTES + 3) * 60_000,
  );

  // Before pinning: nproc counts only the CPUs this process may use.
  const machine = versions();
  pinSelf();
  process.stdout.write(
    `luna-sender soak, ${new Date().toISOString()}, ${machine}\n` +
      `minutes ${MINUTES}, rate ${RATE} ev/s in batches of ${BATCH}, ${SUBS} subscribers over ${CLIENTS} client processes, ` +
      `churn ${CHURN}/s, sample every ${SAMPLE_S} s\n`,
  );
  const redis = await startRedis();
  const probe = pathToFileURL(`${BUILD}bench/soak/eld-probe.js`).href;
  const server = await startServer('product', { redisUrl: redis.url, nodeFlags: [...SERVER_NODE_FLAGS, '--import', probe] });
  const port = server.port;

  // The probe's latest window, read from the server's stderr.
  let eld = { p50: NaN, p99: NaN, max: NaN, heapFloorMb: NaN, heapTotalMb: NaN, externalMb: NaN };
  let partial = '';
  server.proc.child.stderr!.on('data', (b: Buffer) => {
    const lines = (partial + b.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('soak-eld ')) eld = JSON.parse(line.slice(9)) as typeof eld;
  });

  const clients: Proc[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const p = nodeScript(`subs-${i}`, 'bench/soak/subscribers.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: true });
    await nextMessage(p, 'ready');
    clients.push(p);
  }
  const publisher = nodeScript('publisher', 'bench/soak/publisher.js', [], { cpu: CLIENT_CPU, ipc: true });
  await nextMessage(publisher, 'ready');

  const share = (i: number) => Math.floor(SUBS / CLIENTS) + (i < SUBS % CLIENTS ? 1 : 0);
  const churnShare = (i: number) => Math.floor(CHURN / CLIENTS) + (i < CHURN % CLIENTS ? 1 : 0);
  const opened = await Promise.all(
    clients.map((p, i) =>
      ask<{ opened: number; failed: number; error?: string }>(
        p,
        { cmd: 'start', port, account: ACCOUNT, n: share(i), churn: churnShare(i) },
        'started',
        120_000,
      ),
    ),
  );
  const failedOpens = opened.reduce((a, r) => a + r.failed, 0);
  process.stdout.write(
    `subscribers: ${opened.reduce((a, r) => a + r.opened, 0)} open, ${failedOpens} failed${failedOpens ? ` (${opened.find((r) => r.error)?.error})` : ''}\n`,
  );
  await ask(publisher, { cmd: 'start', port, account: ACCOUNT, rate: RATE, batch: BATCH }, 'started');

  // GET /version probes, spread evenly over each sample window.
  let verWindow: number[] = [];
  let probing = true;
  const probeLoop = (async () => {
    while (probing) {
      const t = performance.now();
      verWindow.push(await versionLatencyMs(port));
      await sleep(Math.max(0, PROBE_MS - (performance.now() - t)));
    }
  })();

  const t0 = performance.now();
  let lastT = t0;
  const loadGen = [...clients, publisher];
  const loadGenCpu = () => loadGen.reduce((a, p) => a + treeCpuSeconds(p.pid), 0);
  let lastCpu = treeCpuSeconds(server.proc.pid);
  let lastRedisCpu = treeCpuSeconds(redis.proc.pid);
  let lastLoadGenCpu = loadGenCpu();
  let lastMetrics = await scrapeMetrics(port);
  // Drop what the clients counted during start-up.
  await Promise.all([...clients.map((p) => ask(p, { cmd: 'sample' }, 'sample')), ask(publisher, { cmd: 'sample' }, 'sample')]);
  const endAt = t0 + MINUTES * 60_000;
  // Samples on a fixed grid from t0 (a slow sample does not shift the later ones); the last one at the end.
  for (let k = 1; ; k++) {
    const due = Math.min(t0 + k * SAMPLE_S * 1000, endAt);
    await sleep(Math.max(0, due - performance.now()));
    const subs = await Promise.all(clients.map((p) => ask<SubSample>(p, { cmd: 'sample' }, 'sample')));
    const pub = await ask<PubSample>(publisher, { cmd: 'sample' }, 'sample');
    const now = performance.now();
    const dt = (now - lastT) / 1000;
    const cpu = treeCpuSeconds(server.proc.pid);
    const redisCpu = treeCpuSeconds(redis.proc.pid);
    const lgCpu = loadGenCpu();
    const metrics = await scrapeMetrics(port);
    const hist = newHist();
    for (const s of subs) for (let k = 0; k < s.hist.length; k += 2) hist[s.hist[k]] += s.hist[k + 1];
    const ver = verWindow;
    verWindow = [];
    const delta = (name: string) => (metrics.get(name) ?? NaN) - (lastMetrics.get(name) ?? NaN);
    const notes: string[] = [];
    for (const s of subs) {
      if (s.firstError) notes.push(`subscriber: ${s.firstError}`);
      if (s.unexpected > 0) notes.push(`unexpected close codes ${JSON.stringify(s.unexpectedCodes)}`);
      if (s.churnSkipped > 0) notes.push(`${s.churnSkipped} churn opens skipped (too many pending)`);
    }
    if (pub.firstError) notes.push(`publisher: ${pub.firstError}`);
    if (metrics.size === 0) notes.push('GET /metrics failed');
    const sample: Sample = {
      tMin: (now - t0) / 60_000,
      rssMb: treeRssBytes(server.proc.pid) / 1048576,
      cpuPct: ((cpu - lastCpu) / dt) * 100,
      redisCpuPct: ((redisCpu - lastRedisCpu) / dt) * 100,
      loadGenCpuPct: ((lgCpu - lastLoadGenCpu) / dt) * 100,
      redisRssMb: treeRssBytes(redis.proc.pid) / 1048576,
      load1: loadAvg1(),
      verP50: quantile(ver, 0.5),
      verP99: quantile(ver, 0.99),
      verFail: ver.filter((x) => !Number.isFinite(x)).length,
      eldP99: eld.p99,
      eldMax: eld.max,
      heapFloorMb: eld.heapFloorMb,
      heapTotalMb: eld.heapTotalMb,
      externalMb: eld.externalMb,
      pubEvS: pub.acked / dt,
      pubFail: pub.failed,
      pubSkip: pub.skipped,
      reqP99: pub.reqP99Ms,
      delivS: subs.reduce((a, s) => a + s.frames, 0) / dt,
      latP50: histQuantile(hist, 0.5),
      latP99: histQuantile(hist, 0.99),
      latMax: Math.max(...subs.map((s) => s.maxMs)),
      conns: metrics.get('luna_sender_open_connections') ?? NaN,
      filters: metrics.get('luna_sender_distinct_filters') ?? NaN,
      compiled: metrics.get('luna_sender_compiled_predicates') ?? NaN,
      held: subs.reduce((a, s) => a + s.held, 0),
      opened: subs.reduce((a, s) => a + s.opened, 0),
      closed: subs.reduce((a, s) => a + s.closedByUs, 0),
      unexpected: subs.reduce((a, s) => a + s.unexpected, 0),
      openFail: subs.reduce((a, s) => a + s.openFailed, 0),
      slowCloses: delta('luna_sender_slow_consumer_closes_total') || 0,
      notes,
    };
    samples.push(sample);
    process.stderr.write(
      `[${f(sample.tMin, 2)} min] RSS ${f(sample.rssMb)} MB, heap floor ${f(sample.heapFloorMb)} MB, CPU ${f(sample.cpuPct, 0)} %, /version p99 ${f(sample.verP99, 2)} ms, ` +
        `redis CPU ${f(sample.redisCpuPct, 0)} %, load-gen CPU ${f(sample.loadGenCpuPct, 0)} %, ELD p99 ${f(sample.eldP99)} ms, ${f(sample.pubEvS, 0)} ev/s, ${f(sample.delivS / 1000)}k deliveries/s, ` +
        `lat p99 ${f(sample.latP99)} ms, conns ${sample.conns}\n`,
    );
    lastT = now;
    lastCpu = cpu;
    lastRedisCpu = redisCpu;
    lastLoadGenCpu = lgCpu;
    if (metrics.size > 0) lastMetrics = metrics;
    if (due >= endAt) break;
  }
  const elapsedMin = (performance.now() - t0) / 60_000;
  probing = false;
  await probeLoop;
  await ask(publisher, { cmd: 'stop' }, 'stopped', 20_000).catch(() => undefined);
  await Promise.all(clients.map((p) => ask(p, { cmd: 'stop' }, 'stopped', 10_000).catch(() => undefined)));
  closeProbe();
  report(elapsedMin);
  process.stdout.write(`total wall time ${f((Date.now() - started) / 1000, 0)} s\n`);
  clearTimeout(watchdog);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
