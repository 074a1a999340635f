import { mintToken } from '../../scripts/mint-token.js';
import { treeCpuSeconds, treePeakRssBytes, treeRssBytes } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, type Proc, request, sleep } from '../lib/procs.js';
import type { Server } from '../lib/servers.js';
import { histMerge, histQuantile, newHist } from '../lib/stats.js';
import type { PayloadKind } from './events.js';
import type { PublishJob, PublishResult } from './publisher.js';

/**
 * Load generation against one running server: client processes holding the subscriptions, one
 * publisher process, and the accounting of one measured run (expected vs received deliveries,
 * latency, server CPU and RSS).
 */
export interface Subscription {
  /** Path with query, e.g. `/2/ws?gender=1`. */
  path: string;
  /** Index into whatever the caller uses to compute its expected count. */
  group: number;
}

export interface RunSpec {
  rate: number;
  batch: number;
  seconds: number;
  kind: PayloadKind;
  ageRanges?: [number, number][];
  /** Expected frames for subscription `s`, given the publisher's result. */
  expected(sub: Subscription, r: PublishResult): number;
  /** Longest wait for stragglers after the publisher finished. */
  settleMs?: number;
}

export interface RunResult {
  rate: number;
  batch: number;
  acked: number;
  skippedBatches: number;
  failedBatches: number;
  expected: number;
  received: number;
  /** Subscriptions whose count differs from their expected count. */
  badSubs: number;
  loss: number;
  deliveredPerS: number;
  p50: number;
  p99: number;
  max: number;
  cpuS: number;
  usPerDelivery: number;
  redisCpuS: number;
  rssMb: number;
  peakRssMb: number;
  closed: number;
  windowS: number;
  /** CPU of the load generators (clients + publisher) over the window, % of one core. */
  loadCpuPct: number;
  firstError?: string;
}

interface Report {
  counts: number[];
  hist: number[];
  max: number;
  total: number;
  closed: number;
  closeCodes: Record<string, number>;
}

export class Load {
  private clients: Proc[] = [];
  private subsPerClient: Subscription[][] = [];
  private publisher: Proc | undefined;
  private nextIndex = 0;
  /** product-jwt: the publisher's `Bearer <token>`. */
  private authorization: string | undefined;

  constructor(
    readonly server: Server,
    readonly account: string,
    readonly redisPid?: number,
  ) {}

  /**
   * Opens the subscriptions, spread round-robin over `clientProcs` client processes. `sourceIps`:
   * client source addresses shared by all processes (each address has its own ephemeral ports),
   * or `destIps`: server addresses to spread the connections over (server on 0.0.0.0);
   * `nofile`: the client processes' fd limit (default: the hard limit).
   */
  async open(
    subs: Subscription[],
    clientProcs: number,
    concurrency = 50,
    extra: { sourceIps?: string[]; destIps?: string[]; nofile?: number; timeoutMs?: number } = {},
  ): Promise<{ ms: number }> {
    // One publisher for the Load, also when subscriptions are opened in several waves.
    if (this.publisher === undefined) {
      this.publisher = nodeScript('publisher', 'bench/fanout/publisher.js', [], { cpu: CLIENT_CPU, ipc: true });
      await request(this.publisher, { cmd: 'ping' }, 'ready').catch(() => undefined);
    }
    const t0 = performance.now();
    const jobs: Promise<unknown>[] = [];
    // product-jwt: each subscriber sends a view token in Authorization (per-socket headers), the
    // publisher a creation token; minted before the clock starts. (One text for all subscribers:
    // what a delivery costs does not depend on which token opened the socket.)
    const bearer = (permissions: string[]) => mintToken({ account: this.account, permissions, ttl: 24 * 3600 }, this.server.jwtSecret!);
    const view = this.server.jwtSecret === undefined ? undefined : { Authorization: `Bearer ${await bearer(['view'])}` };
    if (this.server.jwtSecret !== undefined) this.authorization = `Bearer ${await bearer(['creation'])}`;
    for (let c = 0; c < clientProcs; c++) {
      const mine = subs.filter((_, j) => j % clientProcs === c);
      const headers = view === undefined ? undefined : mine.map(() => view);
      const proc = nodeScript(`client${c}`, 'bench/fanout/client.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: extra.nofile ?? true });
      this.clients.push(proc);
      this.subsPerClient.push(mine);
      jobs.push(
        request<{ opened: number; failed: number; error?: string }>(
          proc,
          {
            cmd: 'open',
            port: this.server.port,
            ca: this.server.ca,
            account: this.account,
            paths: mine.map((s) => s.path),
            headers,
            concurrency,
            sourceIps: extra.sourceIps,
            destIps: extra.destIps,
            ipOffset: c,
            ipStride: clientProcs,
          },
          'opened',
          extra.timeoutMs ?? 120000,
        ).then((r) => {
          if (r.failed > 0) throw new Error(`${proc.name}: ${r.failed} subscriptions failed: ${r.error}`);
        }),
      );
    }
    await Promise.all(jobs);
    // Subscriptions are registered in the server's open handler, right after the 101.
    await sleep(200);
    return { ms: performance.now() - t0 };
  }

  /** The client processes (scale benchmark: its own commands, e.g. 'track'). */
  get clientProcs(): readonly Proc[] {
    return this.clients;
  }

  loadCpu(): number {
    return [...this.clients, this.publisher].reduce((a, p) => a + (p === undefined ? 0 : treeCpuSeconds(p.pid)), 0);
  }

  private async reports(): Promise<Report[]> {
    return Promise.all(this.clients.map((c) => request<Report>(c, { cmd: 'report' }, 'report')));
  }

  async reset(): Promise<void> {
    await Promise.all(this.clients.map((c) => request(c, { cmd: 'reset' }, 'reset')));
  }

  /** Waits until the counts stop moving for `quietMs` (or reach `target`), at most `maxMs`. */
  /** Returns when the last frame was seen (within the 100 ms polling step). */
  private async settle(target: number, maxMs: number, quietMs = 1000): Promise<number> {
    const deadline = performance.now() + maxMs;
    let last = -1;
    let lastChange = performance.now();
    while (performance.now() < deadline) {
      const total = (await this.reports()).reduce((a, r) => a + r.total, 0);
      if (total >= target) return performance.now();
      if (total !== last) {
        last = total;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > quietMs) return lastChange;
      await sleep(100);
    }
    return lastChange;
  }

  async run(spec: RunSpec): Promise<RunResult> {
    await this.reset();
    const pid = this.server.proc.pid;
    const cpu0 = treeCpuSeconds(pid);
    const redis0 = this.redisPid ? treeCpuSeconds(this.redisPid) : 0;
    const load0 = this.loadCpu();
    const t0 = performance.now();
    const job: PublishJob = {
      cmd: 'run',
      port: this.server.port,
      ca: this.server.ca,
      account: this.account,
      rate: spec.rate,
      batch: spec.batch,
      seconds: spec.seconds,
      kind: spec.kind,
      firstIndex: this.nextIndex,
      ageRanges: spec.ageRanges,
      authorization: this.authorization,
    };
    const pub = await request<PublishResult>(this.publisher!, job, 'done', (spec.seconds + 60) * 1000);
    this.nextIndex = pub.nextIndex;
    let expected = 0;
    const perClientExpected = this.subsPerClient.map((subs) => subs.map((s) => spec.expected(s, pub)));
    for (const list of perClientExpected) for (const e of list) expected += e;
    const lastFrameAt = await this.settle(expected, spec.settleMs ?? 10000);
    const windowS = (performance.now() - t0) / 1000;
    const cpuS = treeCpuSeconds(pid) - cpu0;
    const redisCpuS = this.redisPid ? treeCpuSeconds(this.redisPid) - redis0 : 0;
    const loadCpuPct = ((this.loadCpu() - load0) / windowS) * 100;
    const reports = await this.reports();
    const hist = newHist();
    let received = 0;
    let badSubs = 0;
    let max = 0;
    let closed = 0;
    reports.forEach((r, c) => {
      histMerge(hist, r.hist);
      received += r.total;
      max = Math.max(max, r.max);
      closed += r.closed;
      r.counts.forEach((n, k) => {
        if (n !== perClientExpected[c][k]) badSubs++;
      });
    });
    // Deliveries over the time they took: from the first publish to the last frame (at least the
    // publishing window), so a server that falls behind and drains later is not flattered.
    const deliverS = Math.max(pub.elapsedS, (lastFrameAt - t0) / 1000);
    return {
      rate: spec.rate,
      batch: spec.batch,
      acked: pub.ackedEvents,
      skippedBatches: pub.skippedBatches,
      failedBatches: pub.failedBatches,
      expected,
      received,
      badSubs,
      loss: expected > 0 ? Math.max(0, (expected - received) / expected) : 0,
      deliveredPerS: received / deliverS,
      p50: histQuantile(hist, 0.5),
      p99: histQuantile(hist, 0.99),
      max,
      cpuS,
      usPerDelivery: received > 0 ? (cpuS * 1e6) / received : NaN,
      redisCpuS,
      rssMb: treeRssBytes(pid) / 2 ** 20,
      peakRssMb: treePeakRssBytes(pid) / 2 ** 20,
      closed,
      windowS,
      loadCpuPct,
      firstError: pub.firstError,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => request(c, { cmd: 'close' }, 'closed', 10000).catch(() => undefined)));
    this.publisher?.child.send({ cmd: 'exit' });
    await sleep(300);
  }
}
