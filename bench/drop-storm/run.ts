import { pathToFileURL } from 'node:url';
import { ACCOUNT } from '../fanout/events.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { type Proc, request, sleep, startRedis, withProcs } from '../lib/procs.js';
import {
  all,
  codesText,
  lastAcked,
  primeStream,
  type SubStatus,
  sourceIps,
  startSeqPublisher,
  startSeqSubscribers,
  sumStatus,
  sumVerdicts,
} from '../lib/seq-procs.js';
import type { SeqPublished } from '../lib/seq-publisher.js';
import type { Verdict } from '../lib/seq-verdict.js';
import { startServer } from '../lib/servers.js';
import { printTable } from '../lib/table.js';

/**
 * Drop storm: N subscribers (no filter) each drop their TCP connection without a close frame for
 * --away seconds about every --period seconds (jittered +-25 %, first drop at a random time) and
 * reconnect, while R events/s flow for --seconds. Variants, each on a fresh server:
 *   resume  - the product (Redis bus), positions=1, reconnects with resume=<last position>:
 *             expected is every event since the first connect (goal 100.000 %, 0 duplicates, order kept)
 *   plain   - the product, plain reconnect (what an LP5 client gets)
 *   ceiling - the minimal uWS server of bench/fanout/servers (plain reconnect, it has no resume)
 * For plain reconnects, expected is every event sent while the subscriber was connected (between
 * its 101 and its drop; one in flight at the drop counts as lost to it).
 *
 *   node build/bench/drop-storm/run.js [--subs 200] [--rate 200] [--batch 5] [--seconds 120]
 *     [--period 10] [--away 2] [--variants resume,plain,ceiling] [--clients 1] [--source-ips 4]
 */
export type DropVariant = 'resume' | 'plain' | 'ceiling';

export interface DropStormOptions {
  subs: number;
  rate: number;
  batch: number;
  seconds: number;
  period: number;
  away: number;
  variants: DropVariant[];
  clients: number;
  sourceIps: number;
  /** One event before the subscribers connect (see primeStream); --no-prime to leave the stream empty. */
  prime: boolean;
}

export function dropStormOptions(args: Map<string, string>): DropStormOptions {
  return {
    subs: num(args, 'subs', 200),
    rate: num(args, 'rate', 200),
    batch: num(args, 'batch', 5),
    seconds: num(args, 'seconds', 120),
    period: num(args, 'period', 10),
    away: num(args, 'away', 2),
    variants: list(args, 'variants', ['resume', 'plain', 'ceiling']) as DropVariant[],
    clients: num(args, 'clients', 1),
    sourceIps: num(args, 'source-ips', 4),
    prime: !args.has('no-prime'),
  };
}

export interface DropStormRow {
  variant: DropVariant;
  published: number;
  failedBatches: number;
  verdict: Verdict;
  status: SubStatus;
  cpuS: number;
  loadCpuPct: number;
  windowS: number;
}

export async function runDropStorm(o: DropStormOptions): Promise<DropStormRow[]> {
  const rows: DropStormRow[] = [];
  for (const variant of o.variants) {
    await withProcs(async () => {
      const redis = variant === 'ceiling' ? undefined : await startRedis();
      const server = await startServer(variant === 'ceiling' ? 'ceiling' : 'product', { redisUrl: redis?.url });
      const pub = await startSeqPublisher();
      const clients: Proc[] = Array.from({ length: o.clients }, (_, c) => startSeqSubscribers(`droppers${c}`));
      const loadCpu = () => [pub, ...clients].reduce((a, p) => a + treeCpuSeconds(p.pid), 0);
      const query = variant === 'resume' ? 'positions=1' : '';
      if (o.prime) await primeStream(server.port, ACCOUNT);
      await Promise.all(
        clients.map((p, c) => {
          const count = Math.floor(o.subs / o.clients) + (c < o.subs % o.clients ? 1 : 0);
          return request(
            p,
            { cmd: 'open', port: server.port, account: ACCOUNT, count, query, sourceIps: sourceIps(o.sourceIps), concurrency: 50 },
            'opened',
            120000,
          );
        }),
      );
      await sleep(200);
      const cpu0 = treeCpuSeconds(server.proc.pid) + (redis ? treeCpuSeconds(redis.proc.pid) : 0);
      const load0 = loadCpu();
      const t0 = performance.now();
      await request(pub, { cmd: 'start', port: server.port, account: ACCOUNT, rate: o.rate, batch: o.batch }, 'started');
      await all(clients, { cmd: 'churn', periodMs: o.period * 1000, awayMs: o.away * 1000, resume: variant === 'resume' }, 'churning');
      process.stderr.write(`drop-storm: ${variant}: ${o.subs} subscribers dropping, ${o.seconds} s\n`);
      await sleep(o.seconds * 1000);
      // Every subscriber connected again before the last events, so each ends with a full tail.
      await all(clients, { cmd: 'calm' }, 'calm', 60000);
      await sleep(1000);
      const published = await request<SeqPublished & { type: string }>(pub, { cmd: 'stop' }, 'stopped', 60000);
      const last = lastAcked(published);
      let status!: SubStatus;
      const deadline = performance.now() + 15000;
      for (;;) {
        status = sumStatus(await all<SubStatus>(clients, { cmd: 'status', n: last }, 'status'));
        if (status.reached >= o.subs || performance.now() > deadline) break;
        await sleep(200);
      }
      const windowS = (performance.now() - t0) / 1000;
      const cpuS = treeCpuSeconds(server.proc.pid) + (redis ? treeCpuSeconds(redis.proc.pid) : 0) - cpu0;
      const loadCpuPct = ((loadCpu() - load0) / windowS) * 100;
      const verdict = sumVerdicts(await all<Verdict>(clients, { cmd: 'verify', published, expect: variant === 'resume' ? 'all' : 'windows' }, 'verified'));
      rows.push({ variant, published: published.ackedEvents, failedBatches: published.failedBatches, verdict, status, cpuS, loadCpuPct, windowS });
      process.stderr.write(
        `drop-storm: ${variant}: ${((verdict.delivered / verdict.expected) * 100).toFixed(3)} % delivered, ${verdict.dups} duplicates, ${verdict.order} order violations\n`,
      );
      await all(clients, { cmd: 'close' }, 'closed', 10000).catch(() => undefined);
    });
  }
  return rows;
}

export function printDropStorm(o: DropStormOptions, rows: DropStormRow[]): void {
  printTable(
    `Drop storm: ${o.subs} subscribers (no filter), each drops its TCP connection (no close frame) for ${o.away} s about every ${o.period} s and reconnects; R=${o.rate} ev/s (B=${o.batch}) for ${o.seconds} s; goal for resume: 100.000 %, 0 duplicates, order kept`,
    [
      'variant',
      'server',
      'events',
      'connections',
      'expected/sub',
      'delivered/sub',
      'expected',
      'delivered',
      'missing',
      'extra',
      'duplicates',
      'order violations',
      'delivered %',
      'worst sub %',
      'of all events %',
      'refused',
      'other closes',
      'server+redis CPU s',
      'load-gen CPU %',
    ],
    rows.map((r) => {
      const v = r.verdict;
      return [
        r.variant === 'resume' ? 'A resume' : r.variant === 'plain' ? 'B no resume' : 'C ceiling',
        r.variant === 'ceiling' ? 'ceiling' : 'product',
        r.published,
        v.connections,
        v.expected / v.subs,
        v.delivered / v.subs,
        v.expected,
        v.delivered,
        v.missing,
        v.extra,
        v.dups,
        v.order,
        ((v.delivered / v.expected) * 100).toFixed(3),
        v.minPct.toFixed(3),
        ((v.delivered / v.subs / r.published) * 100).toFixed(1),
        r.status.refused,
        codesText(r.status.closeCodes),
        r.cpuS,
        r.loadCpuPct,
      ];
    }),
  );
  process.stdout.write(
    'expected: resume, every acknowledged event since the first connect; otherwise every acknowledged event sent while connected (101 to drop). ' +
      "extra: received but not expected (sent just before a plain reconnect's 101). delivered % = delivered / expected; of all events % = delivered per subscriber / events published.\n",
  );
  for (const r of rows) {
    if (r.verdict.gaps.length > 0 && r.variant === 'resume') process.stdout.write(`resume gaps: ${r.verdict.gaps.join('; ')}\n`);
    if (r.status.firstError) process.stdout.write(`${r.variant}: first connect error: ${r.status.firstError}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = dropStormOptions(parseArgs());
  runDropStorm(o).then(
    (rows) => {
      printDropStorm(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`drop-storm: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
