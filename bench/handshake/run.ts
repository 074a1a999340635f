import { pathToFileURL } from 'node:url';
import { ACCOUNT } from '../fanout/events.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, request, sleep, startRedis, withProcs } from '../lib/procs.js';
import { type ServerKind, startServer } from '../lib/servers.js';
import { median } from '../lib/stats.js';
import { printTable } from '../lib/table.js';

/**
 * Handshake rate: WebSocket upgrades per second against one server process (one product worker),
 * each with a 5-parameter filter, opened by client processes on the other CPU with bounded
 * concurrency; each wave opens N sockets and then closes them. Two filter variants: all the same
 * (the compiled predicate is cached after the first) and all distinct (a compile per upgrade).
 * Target: >= 5k upgrades/s per worker with a 5-parameter filter.
 *
 *   node build/bench/handshake/run.js [--n 4000] [--waves 3] [--concurrency 64] [--clients 2]
 *     [--servers product,ceiling,baseline]
 */
export interface HandshakeOptions {
  n: number;
  waves: number;
  concurrency: number;
  clients: number;
  servers: ServerKind[];
}

export function handshakeOptions(a: Map<string, string>): HandshakeOptions {
  return {
    n: num(a, 'n', 4000),
    waves: num(a, 'waves', 3),
    concurrency: num(a, 'concurrency', 64),
    clients: num(a, 'clients', 2),
    servers: list(a, 'servers', ['product', 'ceiling', 'baseline']) as ServerKind[],
  };
}

export interface HandshakeRow {
  server: ServerKind;
  variant: string;
  rates: number[];
  /** Upgrades per second of server CPU: the capacity of one saturated worker. */
  perCpuS: number[];
  failed: number;
  error?: string;
}

const FILTER = (j: number, distinct: boolean) => `/2/ws?gender=1&age__gte=30&age__lt=50&sources=${distinct ? `cam-${j}` : 'cam-1'},cam-2&emotions=1,4`;

export async function runHandshake(o: HandshakeOptions): Promise<HandshakeRow[]> {
  const rows: HandshakeRow[] = [];
  for (const kind of o.servers) {
    await withProcs(async () => {
      const redis = kind === 'product' ? await startRedis() : undefined;
      const server = await startServer(kind, { redisUrl: redis?.url });
      for (const distinct of [false, true]) {
        const row: HandshakeRow = { server: kind, variant: distinct ? 'distinct 5-param filters' : 'same 5-param filter', rates: [], perCpuS: [], failed: 0 };
        for (let w = 0; w < o.waves; w++) {
          const procs = Array.from({ length: o.clients }, (_, c) =>
            nodeScript(`hs-client${c}`, 'bench/fanout/client.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: true }),
          );
          await Promise.all(procs.map((p) => request(p, { cmd: 'ping' }, 'ready').catch(() => undefined)));
          const per = Math.ceil(o.n / o.clients);
          const cpu0 = treeCpuSeconds(server.proc.pid);
          const replies = await Promise.all(
            procs.map((p, c) => {
              const paths = Array.from({ length: per }, (_, k) => FILTER(w * o.n + c * per + k, distinct));
              return request<{ opened: number; failed: number; ms: number; error?: string }>(
                p,
                { cmd: 'open', port: server.port, account: ACCOUNT, paths, concurrency: Math.ceil(o.concurrency / o.clients) },
                'opened',
                120000,
              );
            }),
          );
          const opened = replies.reduce((a, r) => a + r.opened, 0);
          row.perCpuS.push(opened / Math.max(0.01, treeCpuSeconds(server.proc.pid) - cpu0));
          row.failed += replies.reduce((a, r) => a + r.failed, 0);
          row.error ??= replies.find((r) => r.error)?.error;
          // The clients ran in parallel: the wave took as long as the slowest one.
          row.rates.push(opened / (Math.max(...replies.map((r) => r.ms)) / 1000));
          await Promise.all(procs.map((p) => request(p, { cmd: 'close' }, 'closed').catch(() => undefined)));
          await sleep(1000);
        }
        process.stderr.write(`handshake: ${kind} ${row.variant}: ${row.rates.map((r) => Math.round(r)).join(', ')} upgrades/s\n`);
        rows.push(row);
      }
    });
  }
  return rows;
}

export function printHandshake(o: HandshakeOptions, rows: HandshakeRow[]): void {
  printTable(
    `Handshake: ${o.n} upgrades per wave, ${o.waves} waves, concurrency ${o.concurrency}, one server process; target: product >= 5k/s`,
    ['server', 'filter', 'upgrades/s (median)', 'min', 'max', 'upgrades per server CPU s', 'failed'],
    rows.map((r) => [r.server, r.variant, median(r.rates), Math.min(...r.rates), Math.max(...r.rates), median(r.perCpuS), r.failed]),
  );
  process.stdout.write(
    'upgrades/s is wall-clock and bounded by the client CPU when the server is not saturated; ' +
      '"per server CPU s" is what one fully busy worker would sustain (CPU from /proc, 10 ms ticks).\n',
  );
  const err = rows.find((r) => r.error);
  if (err) process.stdout.write(`first failure (${err.server}): ${err.error}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = handshakeOptions(parseArgs());
  runHandshake(o).then(
    (rows) => {
      printHandshake(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`handshake: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
