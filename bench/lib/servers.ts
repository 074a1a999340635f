import { get } from 'node:http';
import { get as httpsGet } from 'node:https';
import { makeCert } from '../../test/helpers/tls.js';
import { freePort, nodeScript, type Proc, SERVER_CPU, sleep } from './procs.js';

/** Polls GET /version until it answers 200 (bounded); fails early if the process exits. */
export async function waitHttp(proc: Proc, port: number, timeoutMs: number, ca?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc.child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${proc.name} exited before listening\n${proc.tail()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = (ca === undefined ? get : httpsGet)({ host: '127.0.0.1', port, path: '/version', timeout: 1000, ca }, (res) => {
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
 *   product-tls - the same serving TLS (a self-signed certificate made at start): clients use wss/https
 *   product-jwt - the product with SENDER_AUTH=jwt (HMAC secret BENCH_JWT_SECRET): clients and the
 *                 publisher send `Authorization: Bearer` tokens signed with it (`jwtSecret`)
 *   limit    - bench/fanout/servers/ceiling.ts with CEILING_FILTERS=1: minimal uWS making the
 *              product's filtered deliveries (one topic per account and filter): the fair limit line
 *   ceiling  - bench/fanout/servers/ceiling.ts: minimal uWS, one topic per account, no filters
 *   baseline - bench/fanout/servers/ws-baseline.ts: node:http + ws, per-subscriber filter loop
 */
export type ServerKind = 'product' | 'product-tls' | 'product-jwt' | 'limit' | 'ceiling' | 'baseline';
/** The default set of a run; `product-tls` is asked for by name (`--servers product,product-tls`). */
export const SERVER_KINDS: readonly ServerKind[] = ['product', 'limit', 'ceiling', 'baseline'];

export interface Server {
  readonly kind: ServerKind;
  readonly proc: Proc;
  readonly port: number;
  /** PEM of the certificate the server presents (product-tls): the clients trust it. */
  readonly ca?: string;
  /** product-jwt: the HMAC secret its tokens are signed with. */
  readonly jwtSecret?: string;
}

/** product-jwt's SENDER_AUTH_HMAC_SECRETS (a benchmark secret, not a secret). */
export const BENCH_JWT_SECRET = 'bench-jwt-secret-of-at-least-32-bytes-0123456789';

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
  let ca: string | undefined;
  if (kind === 'product' || kind === 'product-tls' || kind === 'product-jwt') {
    const cert = kind === 'product-tls' ? makeCert() : undefined;
    ca = cert?.ca.toString('utf8');
    const env: Record<string, string> = {
      ...cert?.env,
      ...(kind === 'product-jwt' ? { SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: BENCH_JWT_SECRET } : {}),
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
    try {
      await waitHttp(proc, port, 30000, ca);
    } finally {
      cert?.remove(); // read at start-up: the running server no longer needs the files
    }
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
  return { kind, proc, port, ca, ...(kind === 'product-jwt' ? { jwtSecret: BENCH_JWT_SECRET } : {}) };
}
