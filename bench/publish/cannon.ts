import { createRequire } from 'node:module';

/**
 * Child process that runs autocannon (programmatic API) once and sends its result summary over
 * IPC, so the load generator can be pinned to the client CPU.
 * IPC: {cmd:'run', url, body, headers, connections, duration} -> {type:'done', ...}
 */
interface Histo {
  average: number;
  p50: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histo & { total: number };
  latency: Histo;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

process.on('message', (m: unknown) => {
  const job = m as { cmd: string; url: string; body: string; headers: Record<string, string>; connections: number; duration: number };
  if (job.cmd === 'exit') process.exit(0);
  if (job.cmd !== 'run') return;
  autocannon({ url: job.url, method: 'POST', body: job.body, headers: job.headers, connections: job.connections, duration: job.duration, pipelining: 1 }).then(
    (r) =>
      process.send!({
        type: 'done',
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        durationS: r.duration,
        reqPerS: r['2xx'] / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        max: r.latency.max,
      }),
    (err: unknown) => process.send!({ type: 'error', error: String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
