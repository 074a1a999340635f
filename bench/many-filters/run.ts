import { pathToFileURL } from 'node:url';
import { ACCOUNT } from '../fanout/events.js';
import { Load, type RunResult, type Subscription } from '../fanout/harness.js';
import { num, parseArgs } from '../lib/args.js';
import { startRedis, withProcs } from '../lib/procs.js';
import { startServer } from '../lib/servers.js';
import { median } from '../lib/stats.js';
import { printTable } from '../lib/table.js';

/**
 * Many filters: N subscribers of one account, first all with one filter (one topic, one predicate
 * call per event), then each with its own filter (N topics, N predicate calls per event). The
 * distinct filters are age ranges [a, b) with a = floor(j / 100), b = a + 1 + j % 100, so all N
 * are different and every subscriber's expected count is known. Target: CPU per delivery with
 * N distinct filters <= 2x the single-filter figure.
 *
 *   node build/bench/many-filters/run.js [--subs 10000] [--rate 10] [--batch 10] [--seconds 8] [--reps 3]
 */
export interface ManyFiltersOptions {
  subs: number;
  rate: number;
  batch: number;
  seconds: number;
  reps: number;
}

export function manyFiltersOptions(a: Map<string, string>): ManyFiltersOptions {
  return { subs: num(a, 'subs', 10000), rate: num(a, 'rate', 10), batch: num(a, 'batch', 10), seconds: num(a, 'seconds', 8), reps: num(a, 'reps', 3) };
}

export interface ManyFiltersRow {
  mode: string;
  distinct: number;
  result: RunResult;
}

function ranges(n: number, distinct: boolean): [number, number][] {
  if (!distinct) return [[30, 50]];
  const out: [number, number][] = [];
  for (let j = 0; j < n; j++) {
    const a = Math.floor(j / 100) % 200;
    out.push([a, Math.min(200, a + 1 + (j % 100))]);
  }
  return out;
}

export async function runManyFilters(o: ManyFiltersOptions): Promise<ManyFiltersRow[]> {
  const rows: ManyFiltersRow[] = [];
  for (const distinct of [false, true]) {
    await withProcs(async () => {
      const redis = await startRedis();
      const server = await startServer('product', { redisUrl: redis.url });
      const load = new Load(server, ACCOUNT, redis.proc.pid);
      const rs = ranges(o.subs, distinct);
      const subs: Subscription[] = [];
      for (let j = 0; j < o.subs; j++) {
        const g = distinct ? j : 0;
        subs.push({ path: `/2/ws?age__gte=${rs[g][0]}&age__lt=${rs[g][1]}`, group: g });
      }
      await load.open(subs, 2);
      const spec = {
        rate: o.rate,
        batch: o.batch,
        seconds: o.seconds,
        kind: 'small' as const,
        ageRanges: rs,
        expected: (s: Subscription, r: { expectedPerRange: number[] }) => r.expectedPerRange[s.group],
      };
      await load.run({ ...spec, seconds: 2 });
      const reps: RunResult[] = [];
      for (let i = 0; i < o.reps; i++) reps.push(await load.run(spec));
      const m = median(reps.map((r) => r.usPerDelivery));
      const result = reps.reduce((b, r) => (Math.abs(r.usPerDelivery - m) < Math.abs(b.usPerDelivery - m) ? r : b));
      process.stderr.write(`many-filters: ${distinct ? 'distinct' : 'single'}: ${reps.map((r) => r.usPerDelivery.toFixed(2)).join(', ')} us/delivery\n`);
      rows.push({ mode: distinct ? `${o.subs} distinct filters` : '1 shared filter', distinct: distinct ? o.subs : 1, result });
      await load.close();
    });
  }
  return rows;
}

export function printManyFilters(o: ManyFiltersOptions, rows: ManyFiltersRow[]): void {
  const single = rows.find((r) => r.distinct === 1)?.result.usPerDelivery ?? NaN;
  printTable(
    `Many filters: ${o.subs} subscribers in one account (product, Redis bus), R=${o.rate} ev/s, B=${o.batch}, small events, T=${o.seconds}s, median of ${o.reps}; target: distinct <= 2x single`,
    ['filters', 'events', 'expected', 'received', 'bad subs', 'delivered/s', 'p50 ms', 'p99 ms', 'CPU s', 'us/delivery', 'x single', 'RSS MB'],
    rows.map(({ mode, result: r }) => [
      mode,
      r.acked,
      r.expected,
      r.received,
      r.badSubs,
      r.deliveredPerS,
      r.p50,
      r.p99,
      r.cpuS,
      r.usPerDelivery,
      `${(r.usPerDelivery / single).toFixed(2)}x`,
      r.rssMb,
    ]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = manyFiltersOptions(parseArgs());
  runManyFilters(o).then(
    (rows) => {
      printManyFilters(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`many-filters: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
