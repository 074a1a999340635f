import { pathToFileURL } from 'node:url';
import { ACCOUNT, type PayloadKind } from '../fanout/events.js';
import { Load, type RunResult, type Subscription } from '../fanout/harness.js';
import { pickMedian, subscriptions } from '../fanout/run.js';
import { list, num, parseArgs } from '../lib/args.js';
import { startRedis, withProcs } from '../lib/procs.js';
import { startServer } from '../lib/servers.js';
import { median } from '../lib/stats.js';
import { fmt, printTable } from '../lib/table.js';

/**
 * Cost of positions (SPEC 9): CPU per delivery of the product (Redis bus, one worker) when every
 * subscription asks for `positions=1` vs when none does, in the same run under the same load. Two
 * gateways (each with its own Redis) run side by side with the same subscriptions, one plain, one
 * with positions=1; rounds alternate between them (plain, positions, positions, plain, ...) so
 * drift in the machine's speed falls on both; each figure is the median over --reps rounds.
 * CPU per delivery is server CPU (the gateway's process tree, /proc) over frames delivered.
 *
 *   node build/bench/positions/run.js [--subs 2000] [--rate 40] [--batch 10] [--seconds 5]
 *     [--reps 5] [--warmup 2] [--payload small] [--mix default|none] [--clients 2]
 */
export interface PositionsOptions {
  subs: number;
  rate: number;
  batch: number;
  seconds: number;
  reps: number;
  warmup: number;
  payloads: PayloadKind[];
  mix: string;
  clients: number;
}

export function positionsOptions(args: Map<string, string>): PositionsOptions {
  return {
    subs: num(args, 'subs', 2000),
    rate: num(args, 'rate', 40),
    batch: num(args, 'batch', 10),
    seconds: num(args, 'seconds', 5),
    reps: num(args, 'reps', 5),
    warmup: num(args, 'warmup', 2),
    payloads: list(args, 'payload', ['small']) as PayloadKind[],
    mix: args.get('mix') ?? 'default',
    clients: num(args, 'clients', 2),
  };
}

export interface PositionsRow {
  payload: PayloadKind;
  plain: RunResult[];
  positions: RunResult[];
}

export async function runPositions(o: PositionsOptions): Promise<PositionsRow[]> {
  return withProcs(async () => {
    const variants = [false, true].map(async (positions) => {
      const redis = await startRedis();
      const server = await startServer('product', { redisUrl: redis.url });
      return { positions, load: new Load(server, ACCOUNT, redis.proc.pid), subs: subscriptions(o.subs, o.mix, positions) };
    });
    const [plain, pos] = await Promise.all(variants);
    // One after the other: opening 2x2000 sockets at once would measure the handshake, not this.
    for (const v of [plain, pos]) await v.load.open(v.subs, o.clients);
    process.stderr.write(`positions: ${o.subs} plain and ${o.subs} positions=1 subscriptions open on two gateways\n`);
    const expected = (s: Subscription, r: { expectedPerClass: number[] }) => r.expectedPerClass[s.group];
    const rows: PositionsRow[] = [];
    for (const payload of o.payloads) {
      const spec = { rate: o.rate, batch: o.batch, seconds: o.seconds, kind: payload, expected };
      for (const v of [plain, pos]) if (o.warmup > 0) await v.load.run({ ...spec, seconds: o.warmup });
      const row: PositionsRow = { payload, plain: [], positions: [] };
      for (let i = 0; i < o.reps; i++) {
        // ABBA: plain first in even rounds, positions first in odd ones.
        for (const v of i % 2 === 0 ? [plain, pos] : [pos, plain]) {
          const r = await v.load.run(spec);
          (v.positions ? row.positions : row.plain).push(r);
          process.stderr.write(
            `positions: ${payload} round ${i + 1} ${v.positions ? 'positions=1' : 'plain'}: ${r.usPerDelivery.toFixed(3)} us/delivery, ${fmt(r.received)} frames, p99 ${r.p99} ms\n`,
          );
        }
      }
      rows.push(row);
    }
    await Promise.all([plain.load.close(), pos.load.close()]);
    return rows;
  });
}

export function printPositions(o: PositionsOptions, rows: PositionsRow[]): void {
  const minCpu = Math.min(...rows.flatMap((r) => [...r.plain, ...r.positions].map((x) => x.cpuS)));
  const mixText = o.mix === 'none' ? 'no filters' : 'filter mix ½ gender=1, ¼ age 30..50, ¼ none';
  const out: (string | number)[][] = [];
  for (const row of rows) {
    for (const [name, rs] of [
      ['plain', row.plain],
      ['positions=1', row.positions],
    ] as const) {
      const m = pickMedian(rs);
      out.push([
        name,
        row.payload,
        rs.map((r) => r.usPerDelivery.toFixed(2)).join(', '),
        median(rs.map((r) => r.usPerDelivery)),
        m.received,
        median(rs.map((r) => r.cpuS)),
        rs.reduce((a, r) => a + r.badSubs, 0),
        m.p50,
        m.p99,
        m.rssMb,
        median(rs.map((r) => r.loadCpuPct)),
      ]);
    }
  }
  printTable(
    `Positions: CPU per delivery with and without positions=1, ${o.subs} subscribers each (${mixText}), product on Redis, R=${o.rate} ev/s, B=${o.batch}, T=${o.seconds}s per round, ${o.reps} rounds each, interleaved`,
    [
      'subscriptions',
      'payload',
      'us/delivery per round',
      'median us/delivery',
      'frames (median round)',
      'server CPU s per round',
      'bad subs (all rounds)',
      'p50 ms',
      'p99 ms',
      'RSS MB',
      'load-gen CPU % (median)',
    ],
    out,
  );
  printTable(
    'Cost of positions: median us/delivery, positions=1 over plain; goal: within 5 %',
    ['payload', 'plain', 'positions=1', 'ratio', 'difference'],
    rows.map((row) => {
      const a = median(row.plain.map((r) => r.usPerDelivery));
      const b = median(row.positions.map((r) => r.usPerDelivery));
      return [row.payload, a, b, `${(b / a).toFixed(3)}x`, `${(((b - a) / a) * 100).toFixed(1)} %`];
    }),
  );
  // /proc counts CPU in 10 ms ticks: a round with little CPU cannot resolve a few per cent.
  if (minCpu < 1)
    process.stdout.write(
      `note: a round used as little as ${minCpu.toFixed(2)} s of server CPU; at 10 ms ticks that is +-${(1 / minCpu).toFixed(0)} % per round: lengthen --seconds or raise --subs to judge 5 %\n`,
    );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = positionsOptions(parseArgs());
  runPositions(o).then(
    (rows) => {
      printPositions(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`positions: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
