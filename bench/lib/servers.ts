import { get } from 'node:http';
import { freePort, nodeScript, type Proc, SERVER_CPU, sleep } from './procs.js';

/** Polls GET /version until it answers 200 (bounded); fails early if the process exits. */
export async function waitHttp(proc: Proc, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc.child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited before listening\n${proc.tail()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = get({ host: '127.0.0.1', port, path: '/version', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${proc.name}: not answering on port ${port} after ${timeoutMs} ms\n${proc.tail()}`);
}

/**
 * The three servers under test, each started pinned to the server CPU:
 *   product  - the gateway (build/src/main.js) on the Redis bus, SENDER_WORKERS workers (default 1)
 *   limit    - bench/fanout/servers/ceiling.ts with CEILING_FILTERS=1: minimal uWS making the
 *              product's filtered deliveries (one topic per account and filter): the fair limit line
 *   ceiling  - bench/fanout/servers/ceiling.ts: minimal uWS, one topic per account, no filters
 *   baseline - bench/fanout/servers/ws-baseline.ts: node:http + ws, per-subscriber filter loop
 */
export type ServerKind = 'product' | 'limit' | 'ceiling' | 'baseline';
export const SERVER_KINDS: readonly ServerKind[] = ['product', 'limit', 'ceiling', 'baseline'];

export interface Server {
  readonly kind: ServerKind;
  readonly proc: Proc;
  readonly port: number;
}

export interface ServerOptions {
  redisUrl?: string;
  workers?: number;
  env?: Record<string, string>;
  /** File descriptor limit for the server (default: the hard limit); see SpawnOptions.nofile. */
  nofile?: number;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

export async function startServer(kind: ServerKind, opts: ServerOptions = {}): Promise<Server> {
  const port = await freePort();
  let proc: Proc;
  const flags = opts.nodeFlags ?? [];
  if (kind === 'product') {
    const env: Record<string, string> = {
      SENDER_PORT: String(port),
      SENDER_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SENDER_WORKERS: String(opts.workers ?? 1),
      ...opts.env,
    };
    if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
    proc = nodeScript('product', 'src/main.js', [], { cpu: SERVER_CPU, env, nofile: opts.nofile ?? true, nodeFlags: flags });
    // The `listening` line is logged at info, and the benchmark runs at warn (a log line per request
    // would be measured too): poll GET /version instead.
    await waitHttp(proc, port, 30000);
  } else {
    const script = kind === 'baseline' ? 'bench/fanout/servers/ws-baseline.js' : 'bench/fanout/servers/ceiling.js';
    proc = nodeScript(kind, script, [], {
      cpu: SERVER_CPU,
      env: { PORT: String(port), ...(kind === 'limit' ? { CEILING_FILTERS: '1' } : {}), ...opts.env },
      ready: /listening on port/,
      nofile: opts.nofile ?? true,
      nodeFlags: flags,
    });
  }
  await proc.ready;
  return { kind, proc, port };
}
