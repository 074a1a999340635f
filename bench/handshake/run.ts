import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';
import { ACCOUNT } from '../fanout/events.js';
import { list, num, parseArgs } from '../lib/args.js';
import { treeCpuSeconds } from '../lib/proc.js';
import { CLIENT_CPU, nodeScript, type Proc, request, sleep, startRedis, withProcs } from '../lib/procs.js';
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
 *
 * With `--auth none,hs256,rs256[,rs256-same]` it measures the cost of SENDER_AUTH=jwt instead: the
 * product only, same 5-parameter filter, a SENDER_AUTH=none server and a jwt server side by side
 * (both pinned to the server CPU, one busy at a time), waves interleaved mode by mode so that the
 * machine's noise falls on all of them alike. Every upgrade carries its own token (distinct `jti`:
 * the verifier's cache cannot help) in `Authorization: Bearer`; `rs256-same` gives every socket
 * one token (a reconnect storm: the cache answers). `--cpu-prof <dir>` writes a V8 CPU profile of
 * the jwt server (where an upgrade's CPU goes).
 */
export interface HandshakeOptions {
  n: number;
  waves: number;
  concurrency: number;
  clients: number;
  servers: ServerKind[];
  auth: AuthMode[];
  /** `--cpu-prof <dir>`: the jwt server writes a V8 CPU profile there when it stops. */
  cpuProf?: string;
}

export type AuthMode = 'none' | 'hs256' | 'rs256' | 'rs256-same';

export function handshakeOptions(a: Map<string, string>): HandshakeOptions {
  return {
    n: num(a, 'n', 4000),
    waves: num(a, 'waves', 3),
    concurrency: num(a, 'concurrency', 64),
    clients: num(a, 'clients', 2),
    servers: list(a, 'servers', ['product', 'ceiling', 'baseline']) as ServerKind[],
    auth: list(a, 'auth', []) as AuthMode[],
    cpuProf: a.get('cpu-prof'),
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
              return request<WaveReply>(
                p,
                { cmd: 'open', port: server.port, account: ACCOUNT, paths, concurrency: Math.ceil(o.concurrency / o.clients) },
                'opened',
                120000,
              );
            }),
          );
          await endWave(row, replies, treeCpuSeconds(server.proc.pid) - cpu0, procs);
        }
        process.stderr.write(`handshake: ${kind} ${row.variant}: ${row.rates.map((r) => Math.round(r)).join(', ')} upgrades/s\n`);
        rows.push(row);
      }
    });
  }
  return rows;
}

const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';

interface WaveReply {
  opened: number;
  failed: number;
  ms: number;
  error?: string;
}

/** Adds one wave's figures to its row (the clients ran in parallel: the wave took as long as the slowest), then closes its sockets. */
async function endWave(row: HandshakeRow, replies: WaveReply[], serverCpuS: number, procs: Proc[]): Promise<void> {
  const opened = replies.reduce((a, r) => a + r.opened, 0);
  row.perCpuS.push(opened / Math.max(0.01, serverCpuS));
  row.failed += replies.reduce((a, r) => a + r.failed, 0);
  row.error ??= replies.find((r) => r.error)?.error;
  row.rates.push(opened / (Math.max(...replies.map((r) => r.ms)) / 1000));
  await Promise.all(procs.map((p) => request(p, { cmd: 'close' }, 'closed').catch(() => undefined)));
  await sleep(1000);
}

function mint(key: KeyObject | string, alg: string, jti: string): Promise<string> {
  return new SignJWT({ account_id: ACCOUNT, permissions: { event: ['view'] }, jti })
    .setProtectedHeader({ alg })
    .setExpirationTime('2h')
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** The --auth comparison (see the header comment); one row per mode. */
export async function runAuthHandshake(o: HandshakeOptions): Promise<HandshakeRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'public.pem');
  writeFileSync(keyFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const rows = new Map<AuthMode, HandshakeRow>(o.auth.map((m) => [m, { server: 'product', variant: `auth ${m}`, rates: [], perCpuS: [], failed: 0 }]));
  try {
    await withProcs(async () => {
      const redis = await startRedis();
      const plain = await startServer('product', { redisUrl: redis.url });
      const jwt = await startServer('product', {
        redisUrl: redis.url,
        env: { SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: SECRET, SENDER_AUTH_PUBLIC_KEYS: keyFile },
        ...(o.cpuProf !== undefined ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${o.cpuProf}`] } : {}),
      });
      for (let w = 0; w < o.waves; w++) {
        for (const mode of o.auth) {
          const row = rows.get(mode)!;
          const server = mode === 'none' ? plain : jwt;
          const procs = Array.from({ length: o.clients }, (_, c) =>
            nodeScript(`hs-client${c}`, 'bench/fanout/client.js', [], { cpu: CLIENT_CPU, ipc: true, nofile: true }),
          );
          await Promise.all(procs.map((p) => request(p, { cmd: 'ping' }, 'ready').catch(() => undefined)));
          const per = Math.ceil(o.n / o.clients);
          // Minted before the clock starts (RS256 signing is the issuer's cost, not the gateway's).
          const same = mode === 'rs256-same' ? await mint(rsa.privateKey, 'RS256', `w${w}`) : undefined;
          const headers: Record<string, string>[][] = [];
          for (let c = 0; c < o.clients; c++) {
            const hs: Record<string, string>[] = [];
            for (let k = 0; k < per; k++) {
              if (mode === 'none') hs.push({});
              else {
                const t = same ?? (mode === 'hs256' ? await mint(SECRET, 'HS256', `${w}-${c}-${k}`) : await mint(rsa.privateKey, 'RS256', `${w}-${c}-${k}`));
                hs.push({ Authorization: `Bearer ${t}` });
              }
            }
            headers.push(hs);
          }
          const cpu0 = treeCpuSeconds(server.proc.pid);
          const replies = await Promise.all(
            procs.map((p, c) =>
              request<WaveReply>(
                p,
                {
                  cmd: 'open',
                  port: server.port,
                  account: ACCOUNT,
                  paths: Array.from({ length: per }, () => FILTER(0, false)),
                  headers: headers[c],
                  concurrency: Math.ceil(o.concurrency / o.clients),
                },
                'opened',
                120000,
              ),
            ),
          );
          await endWave(row, replies, treeCpuSeconds(server.proc.pid) - cpu0, procs);
        }
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of rows.values()) process.stderr.write(`handshake: ${r.variant}: ${r.perCpuS.map((x) => Math.round(x)).join(', ')} upgrades per server CPU s\n`);
  return [...rows.values()];
}

/** The --auth table: per mode, its median per server CPU second against `none`'s. */
export function printAuthHandshake(o: HandshakeOptions, rows: HandshakeRow[]): void {
  const base = rows.find((r) => r.variant === 'auth none');
  printTable(
    `Handshake with SENDER_AUTH: ${o.n} upgrades per wave, ${o.waves} waves per mode (interleaved), concurrency ${o.concurrency}, same 5-param filter; goals: hs256 within 10 %, rs256 within 30 % of none`,
    ['auth', 'upgrades per server CPU s (median)', 'min', 'max', 'vs none', 'upgrades/s (median)', 'failed'],
    rows.map((r) => [
      r.variant.replace('auth ', ''),
      median(r.perCpuS),
      Math.min(...r.perCpuS),
      Math.max(...r.perCpuS),
      base === undefined ? '' : `${((median(r.perCpuS) / median(base.perCpuS) - 1) * 100).toFixed(1)} %`,
      median(r.rates),
      r.failed,
    ]),
  );
  const err = rows.find((r) => r.error);
  if (err) process.stdout.write(`first failure (${err.variant}): ${err.error}\n`);
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
  const auth = o.auth.length > 0;
  (auth ? runAuthHandshake(o) : runHandshake(o)).then(
    (rows) => {
      if (auth) printAuthHandshake(o, rows);
      else printHandshake(o, rows);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`handshake: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
