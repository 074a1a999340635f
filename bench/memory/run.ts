import { pathToFileURL } from 'node:url';
import { ACCOUNT, classOf, FILTER_MIX } from '../fanout/events.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeRssBytes } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, type Proc, request, sleep, startRedis, withProcs } from '../lib/procs.js';
import { type ServerKind, startServer } from '../lib/servers.js';
import { slope } from '../lib/stats.js';
import { printTable } from '../lib/table.js';

/**
 * Memory per idle subscription: open subscriptions (filter mix) in waves, read the server's RSS
 * after each wave has settled, and fit a line; the slope is bytes per subscription. The default
 * stops just short of 20k because this machine's hard limit on open files is 20000 per process
 * (`ulimit -Hn`); raise --waves/--per-wave where the limit allows.
 * Target: <= 2 KB RSS per idle subscription.
 *
 *   node build/bench/memory/run.js [--waves 4] [--per-wave 4900] [--settle 2000] [--servers product,ceiling,baseline]
 */
export interface MemoryOptions {
  waves: number;
  perWave: number;
  settleMs: number;
  servers: ServerKind[];
}

export function memoryOptions(a: Map<string, string>): MemoryOptions {
  return {
    waves: num(a, 'waves', 4),
    perWave: num(a, 'per-wave', 4900),
    settleMs: num(a, 'settle', 2000),
    servers: list(a, 'servers', ['product', 'ceiling', 'baseline']) as ServerKind[],
  };
}

export interface MemoryRow {
  server: ServerKind;
  subs: number[];
  rssMb: number[];
  bytesPerSub: number;
}

export async function runMemory(o: MemoryOptions): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const kind of o.servers) {
    await withProcs(async () => {
      const redis = kind === 'product' ? await startRedis() : undefined;
      const server = await startServer(kind, { redisUrl: redis?.url });
      await sleep(o.settleMs);
      const row: MemoryRow = { server: kind, subs: [0], rssMb: [treeRssBytes(server.proc.pid) / 2 ** 20], bytesPerSub: NaN };
      const clients: Proc[] = [];
      let total = 0;
      for (let w = 0; w < o.waves; w++) {
        // One client process per wave keeps every process under the per-process fd limit.
        const p = nodeScript(`mem-client${w}`, 'bench/fanout/client.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: true });
        clients.push(p);
        await request(p, { cmd: 'ping' }, 'ready').catch(() => undefined);
        const paths = Array.from({ length: o.perWave }, (_, k) => {
          const q = FILTER_MIX[classOf(total + k)].query;
          return q ? `/2/ws?${q}` : '/2/ws';
        });
        const r = await request<{ opened: number; failed: number; error?: string }>(
          p,
          { cmd: 'open', port: server.port, account: ACCOUNT, paths, concurrency: 64 },
          'opened',
          180000,
        );
        if (r.failed > 0) throw new Error(`memory: ${kind}: ${r.failed} subscriptions failed: ${r.error}`);
        total += r.opened;
        await sleep(o.settleMs);
        row.subs.push(total);
        row.rssMb.push(treeRssBytes(server.proc.pid) / 2 ** 20);
        process.stderr.write(`memory: ${kind}: ${total} subscriptions, RSS ${row.rssMb.at(-1)!.toFixed(1)} MB\n`);
      }
      row.bytesPerSub = slope(
        row.subs,
        row.rssMb.map((m) => m * 2 ** 20),
      );
      rows.push(row);
      await Promise.all(clients.map((p) => request(p, { cmd: 'close' }, 'closed').catch(() => undefined)));
    });
  }
  return rows;
}

export function printMemory(o: MemoryOptions, rows: MemoryRow[]): void {
  const waves = rows[0]?.subs ?? [];
  printTable(
    `Memory: server RSS (MB) per wave of ${o.perWave} idle subscriptions (filter mix); slope = bytes per subscription; target: product <= 2048`,
    ['server', ...waves.map((n) => `${n} subs`), 'bytes/sub (slope)'],
    rows.map((r) => [r.server, ...r.rssMb, r.bytesPerSub]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = memoryOptions(parseArgs());
  runMemory(o).then(
    (rows) => {
      printMemory(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`memory: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
