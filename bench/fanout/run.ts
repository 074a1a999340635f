import { pathToFileURL } from 'node:url';
import { list, num, parseArgs } from '../lib/args.js';
import { startRedis, stop, withProcs } from '../lib/procs.js';
import { SERVER_KINDS, type ServerKind, startServer } from '../lib/servers.js';
import { median } from '../lib/stats.js';
import { type Cell, fmt, printTable } from '../lib/table.js';
import { ACCOUNT, classOf, FILTER_MIX, type PayloadKind } from './events.js';
import { Load, type RunResult, type Subscription } from './harness.js';

/**
 * End-to-end fan-out: for each server (product on Redis, limit, ceiling, baseline; see
 * bench/lib/servers.ts) in turn, the same subscriptions (filter mix) and the same publish load; then
 * the product's figures as ratios of the others. `limit` makes exactly the product's deliveries
 * (the fair limit line); `ceiling` delivers every event to everyone. With --rounds R the server
 * sequence is repeated R times (servers restarted) and the median is taken over all R x reps runs,
 * so the machine's load drifts over every server alike. With --find-max, the rate is raised until loss > --max-loss or p99 > --max-p99,
 * and p99 is measured again at half the maximum.
 *
 *   node build/bench/fanout/run.js [--subs 2000] [--rate 40] [--batch 10] [--seconds 8]
 *     [--payload small,full] [--servers product,limit,ceiling,baseline] [--reps 3] [--rounds 1] [--clients 2]
 *     (`--servers product,product-tls`: the gateway over plain and over TLS, clients on ws/wss)
 *     [--find-max] [--find-batch 1] [--find-payload small] [--start-rate 50] [--step 1.6] [--find-seconds 4]
 *     [--max-loss 0.001] [--max-p99 100] [--max-rate 20000]
 */
export interface FanoutOptions {
  subs: number;
  rate: number;
  batch: number;
  seconds: number;
  payloads: PayloadKind[];
  servers: ServerKind[];
  reps: number;
  /** Rounds: the whole server sequence this many times, so each server's reps are spread in time. */
  rounds: number;
  clients: number;
  warmup: number;
  findMax: boolean;
  findBatch: number;
  findPayloads: PayloadKind[];
  startRate: number;
  step: number;
  findSeconds: number;
  maxLoss: number;
  maxP99: number;
  maxRate: number;
  /** 'default' (the filter mix) or 'none' (no subscriber filters). */
  mix: string;
  /** The product's bus: 'redis' (default) or 'memory' (in-process, no Redis). */
  bus: string;
  /** `--positions`: every subscription asks for `positions=1` (SPEC 9; product only). */
  positions: boolean;
  /** The product's SENDER_WORKERS (Redis bus only). */
  workers: number;
}

export function fanoutOptions(args: Map<string, string>): FanoutOptions {
  return {
    subs: num(args, 'subs', 2000),
    rate: num(args, 'rate', 40),
    batch: num(args, 'batch', 10),
    seconds: num(args, 'seconds', 8),
    payloads: list(args, 'payload', ['small', 'full']) as PayloadKind[],
    servers: list(args, 'servers', [...SERVER_KINDS]) as ServerKind[],
    reps: num(args, 'reps', 3),
    rounds: num(args, 'rounds', 1),
    clients: num(args, 'clients', 2),
    warmup: num(args, 'warmup', 2),
    findMax: args.get('find-max') === 'true',
    findBatch: num(args, 'find-batch', 1),
    findPayloads: list(args, 'find-payload', ['small']) as PayloadKind[],
    startRate: num(args, 'start-rate', 50),
    step: num(args, 'step', 1.6),
    findSeconds: num(args, 'find-seconds', 4),
    maxLoss: num(args, 'max-loss', 0.001),
    maxP99: num(args, 'max-p99', 100),
    maxRate: num(args, 'max-rate', 20000),
    mix: args.get('mix') ?? 'default',
    bus: args.get('bus') ?? 'redis',
    positions: args.get('positions') === 'true',
    workers: num(args, 'workers', 1),
  };
}

export interface FanoutRow {
  server: ServerKind;
  payload: PayloadKind;
  /** Median over repetitions (by us/delivery), with all of them kept. */
  result: RunResult;
  reps: RunResult[];
}

export interface FindMaxRow {
  server: ServerKind;
  payload: PayloadKind;
  maxRate: number;
  atMax?: RunResult;
  atHalf?: RunResult;
  stoppedBy: string;
  steps: RunResult[];
}

/**
 * `--mix none`: every subscriber unfiltered, so product and ceiling deliver the same frames.
 * `positions`: each asks for `positions=1` as well.
 */
export function subscriptions(n: number, mix: string, positions = false): Subscription[] {
  const out: Subscription[] = [];
  for (let j = 0; j < n; j++) {
    const c = mix === 'none' ? FILTER_MIX.length - 1 : classOf(j);
    const q = [FILTER_MIX[c].query, positions ? 'positions=1' : ''].filter(Boolean).join('&');
    out.push({ path: q ? `/2/ws?${q}` : '/2/ws', group: c });
  }
  return out;
}

export function pickMedian(rs: RunResult[]): RunResult {
  const m = median(rs.map((r) => r.usPerDelivery));
  return rs.reduce((best, r) => (Math.abs(r.usPerDelivery - m) < Math.abs(best.usPerDelivery - m) ? r : best));
}

function failReason(r: RunResult, o: FanoutOptions, targetRate: number): string | undefined {
  if (r.closed > 0) return `${r.closed} sockets closed`;
  if (r.skippedBatches > 0 || r.failedBatches > 0) return `publisher: ${r.skippedBatches} skipped, ${r.failedBatches} failed batches`;
  if (r.acked < 0.97 * targetRate * o.findSeconds) return `publisher reached ${fmt(r.acked / o.findSeconds)} ev/s`;
  if (r.loss > o.maxLoss) return `loss ${(r.loss * 100).toFixed(2)}%`;
  if (r.p99 > o.maxP99) return `p99 ${fmt(r.p99)} ms`;
  return undefined;
}

export async function runFanout(o: FanoutOptions): Promise<{ rows: FanoutRow[]; maxRows: FindMaxRow[] }> {
  const rows: FanoutRow[] = [];
  const maxRows: FindMaxRow[] = [];
  const subs = subscriptions(o.subs, o.mix, o.positions);
  const repsOf = new Map<string, RunResult[]>();
  for (let round = 0; round < o.rounds; round++)
    for (const kind of o.servers) {
      await withProcs(async () => {
        const redis = (kind === 'product' || kind === 'product-tls' || kind === 'product-jwt') && o.bus === 'redis' ? await startRedis() : undefined;
        const server = await startServer(kind, {
          redisUrl: redis?.url,
          workers: o.workers,
          nodeFlags: process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean),
        });
        const load = new Load(server, ACCOUNT, redis?.proc.pid);
        await load.open(subs, o.clients);
        const expected = (s: Subscription, r: { ackedEvents: number; expectedPerClass: number[] }) =>
          kind === 'ceiling' ? r.ackedEvents : r.expectedPerClass[s.group];
        process.stderr.write(`fanout: ${kind}: ${o.subs} subscriptions open\n`);
        for (const payload of o.reps > 0 ? o.payloads : []) {
          if (o.warmup > 0) await load.run({ rate: o.rate, batch: o.batch, seconds: o.warmup, kind: payload, expected });
          const reps = repsOf.get(`${kind} ${payload}`) ?? [];
          repsOf.set(`${kind} ${payload}`, reps);
          for (let i = 0; i < o.reps; i++) {
            const r = await load.run({ rate: o.rate, batch: o.batch, seconds: o.seconds, kind: payload, expected });
            process.stderr.write(
              `fanout: ${kind} ${payload} round ${round + 1} rep ${i + 1}: ${fmt(r.deliveredPerS)} deliveries/s, ${r.usPerDelivery.toFixed(2)} us/delivery, p99 ${r.p99} ms\n`,
            );
            reps.push(r);
          }
          if (round === o.rounds - 1) rows.push({ server: kind, payload, result: pickMedian(reps), reps });
        }
        if (o.findMax && round === o.rounds - 1) {
          for (const payload of o.findPayloads) {
            const steps: RunResult[] = [];
            let rate = o.startRate;
            let best: RunResult | undefined;
            let stoppedBy = `--max-rate ${o.maxRate}`;
            while (rate <= o.maxRate) {
              const r = await load.run({ rate, batch: o.findBatch, seconds: o.findSeconds, kind: payload, expected, settleMs: 15000 });
              steps.push(r);
              const why = failReason(r, o, rate);
              process.stderr.write(
                `fanout: find-max ${kind} ${payload} R=${Math.round(rate)}: ${fmt(r.deliveredPerS)} deliveries/s p99 ${r.p99} ms loss ${(r.loss * 100).toFixed(3)}% ${why ?? 'ok'}\n`,
              );
              if (why !== undefined) {
                stoppedBy = `R=${Math.round(rate)}: ${why}`;
                break;
              }
              best = r;
              rate = Math.round(rate * o.step);
            }
            let atHalf: RunResult | undefined;
            if (best !== undefined && steps.every((s) => s.closed === 0)) {
              atHalf = await load.run({ rate: Math.max(1, Math.round(best.rate / 2)), batch: o.findBatch, seconds: o.findSeconds, kind: payload, expected });
            }
            maxRows.push({ server: kind, payload, maxRate: best?.rate ?? 0, atMax: best, atHalf, stoppedBy, steps });
          }
        }
        await load.close();
        await stop(server.proc);
      });
    }
  return { rows, maxRows };
}

export function printFanout(o: FanoutOptions, rows: FanoutRow[], maxRows: FindMaxRow[]): void {
  if (rows.length > 0) printRows(o, rows);
  if (maxRows.length > 0) printMax(o, maxRows);
}

function printRows(o: FanoutOptions, rows: FanoutRow[]): void {
  printTable(
    `Fan-out: ${o.subs} subscribers (${o.mix === 'none' ? 'no filters: every server delivers the same frames' : 'filter mix ½ gender=1, ¼ age 30..50, ¼ none'}), R=${o.rate} ev/s, B=${o.batch}, T=${o.seconds}s, median of ${o.reps * o.rounds}${o.bus === 'memory' ? ', product on the in-process bus' : ''}${o.positions ? ', subscriptions with positions=1' : ''}`,
    [
      'server',
      'payload',
      'events',
      'expected',
      'received',
      'bad subs',
      'delivered/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'CPU s',
      'us/delivery',
      'redis CPU s',
      'RSS MB',
      'peak RSS MB',
      'load-gen CPU %',
    ],
    rows.map(({ server, payload, result: r }) => [
      server,
      payload,
      r.acked,
      r.expected,
      r.received,
      r.badSubs,
      r.deliveredPerS,
      r.p50,
      r.p99,
      r.max,
      r.cpuS,
      r.usPerDelivery,
      r.redisCpuS,
      r.rssMb,
      r.peakRssMb,
      r.loadCpuPct,
    ]),
  );
  const ratioRows: Cell[][] = [];
  for (const payload of o.payloads) {
    const get = (k: ServerKind) => rows.find((r) => r.server === k && r.payload === payload)?.result;
    const p = get('product');
    const l = get('limit');
    const c = get('ceiling');
    const b = get('baseline');
    if (!p) continue;
    const x = (a: number, d?: RunResult) => (d ? `${(a / d.usPerDelivery).toFixed(2)}x` : '-');
    // Per-pair ratio of rounds run side by side (round k of product with round k of limit): less
    // sensitive to the load drifting between rounds than the ratio of the medians.
    const pr = rows.find((r) => r.server === 'product' && r.payload === payload)?.reps ?? [];
    const lr = rows.find((r) => r.server === 'limit' && r.payload === payload)?.reps ?? [];
    const pairs = pr.length === lr.length && pr.length > 1 ? `${median(pr.map((r, i) => r.usPerDelivery / lr[i].usPerDelivery)).toFixed(2)}x` : '-';
    ratioRows.push([
      payload,
      p.usPerDelivery,
      l?.usPerDelivery ?? NaN,
      c?.usPerDelivery ?? NaN,
      b?.usPerDelivery ?? NaN,
      x(p.usPerDelivery, l),
      pairs,
      x(p.usPerDelivery + (p.redisCpuS * 1e6) / p.received, l),
      x(p.usPerDelivery, c),
      b ? `1/${(b.usPerDelivery / p.usPerDelivery).toFixed(1)}` : '-',
    ]);
  }
  const tlsRows: Cell[][] = [];
  for (const payload of o.payloads) {
    const p = rows.find((r) => r.server === 'product' && r.payload === payload)?.result;
    const t = rows.find((r) => r.server === 'product-tls' && r.payload === payload)?.result;
    if (p && t) tlsRows.push([payload, p.usPerDelivery, t.usPerDelivery, `${(t.usPerDelivery / p.usPerDelivery).toFixed(2)}x`, p.loadCpuPct, t.loadCpuPct]);
  }
  if (tlsRows.length > 0) {
    printTable(
      'TLS: server CPU per delivery (us), the same gateway over wss/https and over ws/http; goal: within 2x',
      ['payload', 'product', 'product-tls', 'tls/plain', 'load-gen CPU % plain', 'load-gen CPU % tls'],
      tlsRows,
    );
  }
  printTable(
    'Server CPU per delivery (us), medians; limit = minimal uWS making the same filtered deliveries; target: product within 5 % of limit (<= 1.05x), <= 1/8 of baseline',
    ['payload', 'product', 'limit', 'ceiling', 'baseline', 'product/limit', 'paired rounds', '(product+redis)/limit', 'product/ceiling', 'product/baseline'],
    ratioRows,
  );
}

function printMax(o: FanoutOptions, maxRows: FindMaxRow[]): void {
  printTable(
    `Find-max: ${o.subs} subscribers, B=${o.findBatch}, T=${o.findSeconds}s per step, stop at loss > ${o.maxLoss * 100}% or p99 > ${o.maxP99} ms`,
    ['server', 'payload', 'max R ev/s', 'delivered/s', 'p99 ms at max', 'us/delivery at max', 'p99 ms at R/2', 'stopped by', 'load-gen CPU % at stop'],
    maxRows.map((m) => [
      m.server,
      m.payload,
      m.maxRate,
      m.atMax?.deliveredPerS ?? NaN,
      m.atMax?.p99 ?? NaN,
      m.atMax?.usPerDelivery ?? NaN,
      m.atHalf?.p99 ?? NaN,
      m.stoppedBy,
      // Near 100 %: the load generators, not the server, set the maximum.
      (m.steps.at(-1)?.loadCpuPct ?? NaN).toFixed(0),
    ]),
  );
  const mr: Cell[][] = [];
  for (const payload of o.findPayloads) {
    const get = (k: ServerKind) => maxRows.find((r) => r.server === k && r.payload === payload)?.atMax?.deliveredPerS;
    const p = get('product');
    const c = get('ceiling');
    const b = get('baseline');
    if (p === undefined) continue;
    mr.push([payload, p, c ?? NaN, b ?? NaN, c ? `${((p / c) * 100).toFixed(0)}%` : '-', b ? `${(p / b).toFixed(1)}x` : '-']);
  }
  printTable(
    'Delivered/s at max; target: product >= 70% of ceiling and >= 5x baseline',
    ['payload', 'product', 'ceiling', 'baseline', 'product/ceiling', 'product/baseline'],
    mr,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = fanoutOptions(parseArgs());
  runFanout(o).then(
    ({ rows, maxRows }) => {
      printFanout(o, rows, maxRows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`fanout: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
