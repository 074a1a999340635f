import { pathToFileURL } from 'node:url';
import { ACCOUNT } from '../fanout/events.js';
import { num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, type Proc, request, sleep, startRedis, withProcs } from '../lib/procs.js';
import { all, codesText, lastAcked, type SubStatus, sourceIps, startSeqPublisher, startSeqSubscribers, sumStatus, sumVerdicts } from '../lib/seq-procs.js';
import type { SeqPublished } from '../lib/seq-publisher.js';
import type { Verdict } from '../lib/seq-verdict.js';
import { startServer } from '../lib/servers.js';
import { histMerge, histQuantile, newHist } from '../lib/stats.js';
import { printTable } from '../lib/table.js';

/**
 * Resume storm (SPEC 9): S subscribers (positions=1, no filter) on one worker of the product
 * (Redis bus) while events flow at R/s; after T seconds all S drop their TCP connections at once
 * (no close frame), stay away D seconds, then all reconnect at once with `resume=<last position>`.
 * Meanwhile L live subscribers stay connected and measure their delivery delay (publish `ts` to
 * receive). Reported: how long until every resumer is live (has the first event published after
 * the storm began, the sentinel), server CPU during the storm, the live subscribers' p50/p99
 * before, while away and during the storm, and the check of every resumer's whole sequence (no
 * event missing, none twice, in order) once publishing stopped.
 *
 *   node build/bench/resume-storm/run.js [--subs 2000] [--rate 100] [--batch 5] [--before 10]
 *     [--away 60] [--live 50] [--clients 2] [--source-ips 4] [--tail 2]
 *     [--history-bytes 268435456] [--window 600] [--storm-timeout 300]
 */
export interface ResumeStormOptions {
  subs: number;
  rate: number;
  batch: number;
  before: number;
  away: number;
  live: number;
  clients: number;
  sourceIps: number;
  tail: number;
  historyBytes: number;
  window: number;
  stormTimeout: number;
}

export function resumeStormOptions(args: Map<string, string>): ResumeStormOptions {
  const away = num(args, 'away', 60);
  return {
    subs: num(args, 'subs', 2000),
    rate: num(args, 'rate', 100),
    batch: num(args, 'batch', 5),
    before: num(args, 'before', 10),
    away,
    live: num(args, 'live', 50),
    clients: num(args, 'clients', 2),
    sourceIps: num(args, 'source-ips', 4),
    tail: num(args, 'tail', 2),
    // The history must hold D seconds plus however long the storm takes to replay them; the window
    // must outlast both (a replay whose start the window dropped is closed as too slow).
    historyBytes: num(args, 'history-bytes', 256 * 2 ** 20),
    window: num(args, 'window', Math.max(600, away * 4 + 120)),
    stormTimeout: num(args, 'storm-timeout', Math.max(120, away * 5)),
  };
}

interface LiveReport {
  hist: number[];
  max: number;
  total: number;
  closed: number;
}

interface Phase {
  name: string;
  windowS: number;
  frames: number;
  p50: number;
  p99: number;
  max: number;
  loadCpuPct: number;
}

export interface ResumeStormResult {
  missedEach: number;
  allLiveS: number;
  liveP50S: number;
  stormWindowS: number;
  handshakeP50: number;
  handshakeMax: number;
  resumedAllMs: number;
  cpuS: number;
  redisCpuS: number;
  loadCpuPct: number;
  status: SubStatus;
  verdict: Verdict;
  phases: Phase[];
  published: { acked: number; failed: number; maxLateMs: number; requestP99Ms: number; requestMaxMs: number };
  notLive: number;
}

export async function runResumeStorm(o: ResumeStormOptions): Promise<ResumeStormResult> {
  return withProcs(async () => {
    const redis = await startRedis();
    const server = await startServer('product', {
      redisUrl: redis.url,
      env: { SENDER_RESUME_HISTORY_BYTES: String(o.historyBytes), SENDER_RESUME_WINDOW: String(o.window) },
    });
    const pub = await startSeqPublisher();
    const live = nodeScript('live', 'bench/fanout/client.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: true });
    const resumers: Proc[] = Array.from({ length: o.clients }, (_, c) => startSeqSubscribers(`resumers${c}`, true));
    const loadProcs = [pub, live, ...resumers];
    const loadCpu = () => loadProcs.reduce((a, p) => a + treeCpuSeconds(p.pid), 0);
    const ips = sourceIps(o.sourceIps);

    await request(live, { cmd: 'open', port: server.port, account: ACCOUNT, paths: Array(o.live).fill('/2/ws'), concurrency: 50 }, 'opened', 60000);
    await Promise.all(
      resumers.map((p, c) => {
        const count = Math.floor(o.subs / o.clients) + (c < o.subs % o.clients ? 1 : 0);
        return request(p, { cmd: 'open', port: server.port, account: ACCOUNT, count, query: 'positions=1', sourceIps: ips, concurrency: 50 }, 'opened', 300000);
      }),
    );
    process.stderr.write(`resume-storm: ${o.subs} resumers and ${o.live} live subscribers open\n`);
    await sleep(200);

    const phases: Phase[] = [];
    /** Live delay over one phase: reset, wait for `fn`, report. */
    const phase = async (name: string, fn: () => Promise<void>) => {
      await request(live, { cmd: 'reset' }, 'reset');
      const l0 = loadCpu();
      const t0 = performance.now();
      await fn();
      const windowS = (performance.now() - t0) / 1000;
      const r = await request<LiveReport>(live, { cmd: 'report' }, 'report');
      phases.push({
        name,
        windowS,
        frames: r.total,
        p50: histQuantile(r.hist, 0.5),
        p99: histQuantile(r.hist, 0.99),
        max: r.max,
        loadCpuPct: ((loadCpu() - l0) / windowS) * 100,
      });
      return r;
    };

    await request(pub, { cmd: 'start', port: server.port, account: ACCOUNT, rate: o.rate, batch: o.batch }, 'started');
    await sleep(1000);
    await phase(`before (${o.subs} resumers connected)`, () => sleep(Math.max(1, o.before - 1) * 1000));
    const atDrop = await request<{ next: number }>(pub, { cmd: 'mark' }, 'mark');
    await all(resumers, { cmd: 'drop' }, 'dropped');
    await phase(`away (${o.subs} resumers disconnected)`, () => sleep(o.away * 1000));

    let cpuS = 0;
    let redisCpuS = 0;
    let loadCpuPct = 0;
    let stormWindowS = 0;
    let resumedAllMs = NaN;
    let status!: SubStatus;
    let missedEach = 0;
    // Every resumer reconnects at once; the sentinel is the next event published after that. The
    // storm is measured in two parts, reconnecting (until every 101 is in: the handshakes) and
    // replaying (until every resumer is live), and as a whole.
    const cpu0 = treeCpuSeconds(server.proc.pid);
    const redis0 = treeCpuSeconds(redis.proc.pid);
    const load0 = loadCpu();
    const t0 = performance.now();
    let mark = { next: -1 };
    const h1 = await phase('storm: reconnecting (until every 101)', async () => {
      const resumed = all<{ ms: number }>(resumers, { cmd: 'resume', concurrency: 0 }, 'resumed', o.stormTimeout * 1000);
      mark = await request<{ next: number }>(pub, { cmd: 'mark' }, 'mark');
      missedEach = mark.next - atDrop.next;
      await all(resumers, { cmd: 'sentinel', n: mark.next }, 'sentinel');
      resumedAllMs = Math.max(...(await resumed).map((r) => r.ms));
    });
    const h2 = await phase('storm: replaying (until every resumer is live)', async () => {
      const deadline = performance.now() + o.stormTimeout * 1000;
      for (;;) {
        status = sumStatus(await all<SubStatus>(resumers, { cmd: 'status', n: mark.next }, 'status'));
        if (status.live >= o.subs || performance.now() > deadline) break;
        await sleep(100);
      }
    });
    stormWindowS = (performance.now() - t0) / 1000;
    cpuS = treeCpuSeconds(server.proc.pid) - cpu0;
    redisCpuS = treeCpuSeconds(redis.proc.pid) - redis0;
    loadCpuPct = ((loadCpu() - load0) / stormWindowS) * 100;
    const whole = newHist();
    histMerge(whole, h1.hist);
    histMerge(whole, h2.hist);
    phases.push({
      name: 'storm, whole (reconnect to every resumer live)',
      windowS: stormWindowS,
      frames: h1.total + h2.total,
      p50: histQuantile(whole, 0.5),
      p99: histQuantile(whole, 0.99),
      max: Math.max(h1.max, h2.max),
      loadCpuPct,
    });
    await phase(`after (${o.tail} s, all live)`, () => sleep(o.tail * 1000));

    const published = await request<SeqPublished & { type: string }>(pub, { cmd: 'stop' }, 'stopped', 60000);
    const last = lastAcked(published);
    const deadline = performance.now() + 30000;
    while (performance.now() < deadline) {
      const s = sumStatus(await all<SubStatus>(resumers, { cmd: 'status', n: last }, 'status'));
      if (s.reached >= o.subs) break;
      await sleep(200);
    }
    const verdict = sumVerdicts(await all<Verdict>(resumers, { cmd: 'verify', published, expect: 'all' }, 'verified'));
    await all(resumers, { cmd: 'close' }, 'closed', 10000).catch(() => undefined);
    live.child.send({ cmd: 'close' });
    return {
      missedEach,
      allLiveS: status.liveMax / 1000,
      liveP50S: status.liveP50 / 1000,
      stormWindowS,
      handshakeP50: status.handshakeP50,
      handshakeMax: status.handshakeMax,
      resumedAllMs,
      cpuS,
      redisCpuS,
      loadCpuPct,
      status,
      verdict,
      phases,
      notLive: o.subs - status.live,
      published: {
        acked: published.ackedEvents,
        failed: published.failedBatches,
        maxLateMs: published.maxLateMs,
        requestP99Ms: published.requestP99Ms,
        requestMaxMs: published.requestMaxMs,
      },
    };
  });
}

export function printResumeStorm(o: ResumeStormOptions, r: ResumeStormResult): void {
  const v = r.verdict;
  printTable(
    `Resume storm: ${o.subs} subscribers (positions=1, no filter) on 1 worker (Redis bus), R=${o.rate} ev/s (B=${o.batch}), all drop after ${o.before} s, away ${o.away} s, all resume at once; SENDER_RESUME_HISTORY_BYTES=${o.historyBytes}, SENDER_RESUME_WINDOW=${o.window}`,
    [
      'missed per resumer',
      'replayed frames',
      'all 101s ms',
      'handshake p50 ms',
      'all live s',
      'live p50 s',
      'not live',
      'server CPU s',
      'server CPU %',
      'redis CPU s',
      'load-gen CPU %',
      'refused',
      'missing',
      'doubled',
      'order violations',
      'extra',
      'closes',
    ],
    [
      [
        r.missedEach,
        r.missedEach * o.subs,
        r.resumedAllMs,
        r.handshakeP50,
        r.allLiveS,
        r.liveP50S,
        r.notLive,
        r.cpuS,
        (r.cpuS / r.stormWindowS) * 100,
        r.redisCpuS,
        r.loadCpuPct,
        r.status.refused,
        v.missing,
        v.dups,
        v.order,
        v.extra,
        codesText(r.status.closeCodes),
      ],
    ],
  );
  process.stdout.write(
    `checked after publishing stopped: ${v.subs} resumers, ${v.expected} expected frames (every acknowledged event since each one's first connect), ${v.delivered} delivered; ` +
      `${v.subsMissing} with a gap, ${v.subsDup} with a duplicate, ${v.subsOrder} out of order. "all live": from the reconnect until the last resumer had the sentinel (first event published after the storm began). ` +
      (v.gaps.length > 0 ? `First gaps: ${v.gaps.slice(0, 5).join('; ')}. ` : '') +
      `Publisher: ${r.published.acked} events acknowledged, ${r.published.failed} failed batches, request p99 ${r.published.requestP99Ms} ms (max ${r.published.requestMaxMs.toFixed(1)}), ran at most ${r.published.maxLateMs.toFixed(1)} ms late.\n`,
  );
  printTable(
    `Live subscribers (${o.live}, no filter) meanwhile: delivery delay, publish ts to receive; goal: p99 < 50 ms during the storm`,
    ['phase', 'window s', 'frames', 'p50 ms', 'p99 ms', 'max ms', 'load-gen CPU %'],
    r.phases.map((p) => [p.name, p.windowS, p.frames, p.p50, p.p99, p.max, p.loadCpuPct]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = resumeStormOptions(parseArgs());
  runResumeStorm(o).then(
    (r) => {
      printResumeStorm(o, r);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`resume-storm: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
