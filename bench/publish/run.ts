import { pathToFileURL } from 'node:url';
import { ACCOUNT, EventMaker, nowMs, publishBody } from '../fanout/events.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, request, startRedis, withProcs } from '../lib/procs.js';
import { type ServerKind, startServer } from '../lib/servers.js';
import { printTable } from '../lib/table.js';

/**
 * Publish throughput: autocannon POSTs /2/publish with B small events per request as fast as
 * `--connections` connections allow, no subscribers. The product is measured on the Redis bus
 * (each request is an XADD pipeline and waits for Redis) and on the in-process bus; the ceiling
 * (no bus, no validation) is for reference.
 *
 *   node build/bench/publish/run.js [--batches 1,10] [--connections 32] [--duration 6]
 *     [--servers product,product-memory,ceiling] [--procs 1]
 * `--procs P` splits the connections over P autocannon processes (all on the load CPU), so one
 * load process is not the limit; the table shows gateway, Redis and load-generator CPU side by side.
 */
export interface PublishOptions {
  batches: number[];
  connections: number;
  duration: number;
  servers: string[];
  procs: number;
}

export function publishOptions(a: Map<string, string>): PublishOptions {
  return {
    batches: list(a, 'batches', ['1', '10']).map(Number),
    connections: num(a, 'connections', 32),
    duration: num(a, 'duration', 6),
    servers: list(a, 'servers', ['product', 'product-memory', 'ceiling']),
    procs: num(a, 'procs', 1),
  };
}

export interface PublishRow {
  server: string;
  batch: number;
  reqPerS: number;
  eventsPerS: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  cpuS: number;
  usPerEvent: number;
  redisCpuS: number;
  /** CPU of the autocannon processes over the run, % of one core. */
  loadCpuPct: number;
}

interface CannonResult {
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
  reqPerS: number;
  p50: number;
  p99: number;
  max: number;
}

export async function runPublish(o: PublishOptions): Promise<PublishRow[]> {
  const rows: PublishRow[] = [];
  const maker = new EventMaker('small');
  for (const name of o.servers) {
    await withProcs(async () => {
      const kind: ServerKind = name === 'ceiling' ? 'ceiling' : 'product';
      const redis = name === 'product' ? await startRedis() : undefined;
      const server = await startServer(kind, { redisUrl: redis?.url });
      const cannons = Array.from({ length: o.procs }, (_, i) => nodeScript(`autocannon${i}`, 'bench/publish/cannon.js', [], { cpu: CLIENT_CPU, ipc: true }));
      await Promise.all(cannons.map((c) => request(c, { cmd: 'ping' }, 'ready').catch(() => undefined)));
      const runAll = async (job: object, duration: number): Promise<CannonResult> => {
        const rs = await Promise.all(cannons.map((c) => request<CannonResult>(c, { ...job, duration }, 'done', (duration + 30) * 1000)));
        return {
          ok: rs.reduce((a, r) => a + r.ok, 0),
          non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
          errors: rs.reduce((a, r) => a + r.errors, 0),
          durationS: Math.max(...rs.map((r) => r.durationS)),
          reqPerS: rs.reduce((a, r) => a + r.reqPerS, 0),
          // The worst process's quantiles: an upper bound of the combined ones.
          p50: Math.max(...rs.map((r) => r.p50)),
          p99: Math.max(...rs.map((r) => r.p99)),
          max: Math.max(...rs.map((r) => r.max)),
        };
      };
      const loadCpu = () => cannons.reduce((a, c) => a + treeCpuSeconds(c.pid), 0);
      for (const batch of o.batches) {
        const body = publishBody(Array.from({ length: batch }, (_, i) => maker.make(i, nowMs())));
        const job = {
          cmd: 'run',
          url: `http://127.0.0.1:${server.port}/2/publish`,
          body,
          headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT },
          connections: Math.max(1, Math.round(o.connections / o.procs)),
        };
        await runAll(job, 1);
        const cpu0 = treeCpuSeconds(server.proc.pid);
        const redis0 = redis ? treeCpuSeconds(redis.proc.pid) : 0;
        const load0 = loadCpu();
        const t0 = performance.now();
        const r = await runAll(job, o.duration);
        const cpuS = treeCpuSeconds(server.proc.pid) - cpu0;
        const loadCpuPct = ((loadCpu() - load0) / ((performance.now() - t0) / 1000)) * 100;
        const events = r.ok * batch;
        rows.push({
          server: name,
          batch,
          reqPerS: r.reqPerS,
          eventsPerS: r.reqPerS * batch,
          p50: r.p50,
          p99: r.p99,
          max: r.max,
          non2xx: r.non2xx,
          errors: r.errors,
          cpuS,
          usPerEvent: events > 0 ? (cpuS * 1e6) / events : NaN,
          redisCpuS: redis ? treeCpuSeconds(redis.proc.pid) - redis0 : 0,
          loadCpuPct,
        });
        process.stderr.write(`publish: ${name} B=${batch}: ${Math.round(r.reqPerS)} req/s\n`);
      }
    });
  }
  return rows;
}

export function printPublish(o: PublishOptions, rows: PublishRow[]): void {
  printTable(
    `Publish throughput (autocannon, ${o.connections} connections in ${o.procs} process${o.procs === 1 ? '' : 'es'}, ${o.duration}s, small events, no subscribers; product-memory = in-process bus; CPU % of one core)`,
    [
      'server',
      'B',
      'req/s',
      'events/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'non-2xx',
      'errors',
      'server CPU s',
      'us/event',
      'redis CPU s',
      'server CPU %',
      'redis CPU %',
      'load-gen CPU %',
    ],
    rows.map((r) => [
      r.server,
      r.batch,
      r.reqPerS,
      r.eventsPerS,
      r.p50,
      r.p99,
      r.max,
      r.non2xx,
      r.errors,
      r.cpuS,
      r.usPerEvent,
      r.redisCpuS,
      (r.cpuS / o.duration) * 100,
      (r.redisCpuS / o.duration) * 100,
      r.loadCpuPct,
    ]),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = publishOptions(parseArgs());
  runPublish(o).then(
    (rows) => {
      printPublish(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`publish: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
