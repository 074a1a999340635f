import { pathToFileURL } from 'node:url';
import type { RunResult } from '../fanout/harness.js';
import { fanoutOptions, runFanout } from '../fanout/run.js';
import { list, num, parseArgs } from '../lib/args.js';
import { median } from '../lib/stats.js';
import { printTable } from '../lib/table.js';

/**
 * The same fan-out (product on Redis, filter mix) with SENDER_WORKERS=1 and 2 (supervisor, port
 * shared), rounds interleaved 1, 2, 1, 2, ... so the machine's load drifts over both alike. Every
 * worker reads every event from the stream, so the second worker adds one read per event (server
 * and Redis) and the subscribers are split between the two. The server tree is pinned to one core
 * (the other holds the load generators), so this measures what a second worker costs, not the
 * speedup of a second core; the README's scaling section projects the speedup from it.
 *
 *   node build/bench/workers/run.js [--workers 1,2] [--rounds 3] [--subs 2000] [--rate 40] [--batch 10]
 *     [--seconds 8] [--payload small]
 */
export interface WorkersOptions {
  workers: number[];
  rounds: number;
  args: Map<string, string>;
}

export function workersOptions(a: Map<string, string>): WorkersOptions {
  // --workers means one count to the fan-out; here it is the list, so the fan-out never sees it.
  const args = new Map(a);
  args.delete('workers');
  return { workers: list(a, 'workers', ['1', '2']).map(Number), rounds: num(a, 'rounds', 3), args };
}

export interface WorkersRow {
  workers: number;
  payload: string;
  runs: RunResult[];
}

export async function runWorkers(o: WorkersOptions): Promise<WorkersRow[]> {
  const rows: WorkersRow[] = [];
  for (let round = 0; round < o.rounds; round++)
    for (const w of o.workers) {
      const f = {
        ...fanoutOptions(o.args),
        servers: ['product' as const],
        reps: 1,
        rounds: 1,
        workers: w,
        findMax: false,
        payloads: list(o.args, 'payload', ['small']) as ('small' | 'full')[],
      };
      const r = await runFanout(f);
      for (const row of r.rows) {
        let mine = rows.find((x) => x.workers === w && x.payload === row.payload);
        if (mine === undefined) {
          mine = { workers: w, payload: row.payload, runs: [] };
          rows.push(mine);
        }
        mine.runs.push(...row.reps);
      }
    }
  return rows;
}

export function printWorkers(o: WorkersOptions, rows: WorkersRow[]): void {
  const f = fanoutOptions(o.args);
  printTable(
    `Workers: ${f.subs} subscribers (filter mix), R=${f.rate} ev/s, B=${f.batch}, T=${f.seconds}s, product on Redis, server tree on one core, medians of ${o.rounds} interleaved rounds`,
    [
      'workers',
      'payload',
      'us/delivery per round',
      'us/delivery',
      'delivered/s',
      'p99 ms',
      'server CPU s',
      'redis CPU s',
      'redis CPU us/event',
      'bad subs',
      'load-gen CPU %',
    ],
    rows.map((r) => {
      const m = (g: (x: RunResult) => number) => median(r.runs.map(g));
      return [
        r.workers,
        r.payload,
        r.runs.map((x) => x.usPerDelivery.toFixed(2)).join(', '),
        m((x) => x.usPerDelivery),
        m((x) => x.deliveredPerS),
        m((x) => x.p99),
        m((x) => x.cpuS),
        m((x) => x.redisCpuS),
        m((x) => (x.redisCpuS * 1e6) / x.acked),
        r.runs.reduce((a, x) => a + x.badSubs, 0),
        m((x) => x.loadCpuPct),
      ];
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = workersOptions(parseArgs());
  runWorkers(o).then(
    (rows) => {
      printWorkers(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`workers: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
