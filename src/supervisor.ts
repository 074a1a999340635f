import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from './config/index.js';
import type { Logger } from './log.js';

/**
 * Forks N workers that all listen on one port (uWS sets SO_REUSEPORT, so the kernel spreads
 * connections between them) and each read the Redis stream themselves. A worker that dies is
 * restarted with exponential backoff (reset once it has run for a minute). SIGTERM/SIGINT are
 * forwarded; each worker stops accepting, closes its sockets with 1001 and exits; the supervisor
 * exits when all have, or SIGKILLs the rest after a grace period.
 */
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const STABLE_MS = 60_000;
const GRACE_MS = 10_000;

/** With SENDER_PORT=0 every worker would get its own port; pick one free port for all of them. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Slot {
  id: number;
  child?: ChildProcess;
  startedAt: number;
  backoff: number;
}

export async function runSupervisor(config: Config, n: number, log: Logger): Promise<void> {
  const port = config.SENDER_PORT === 0 ? await freePort(config.SENDER_HOST) : config.SENDER_PORT;
  let stopping = false;
  let listening = 0;
  const slots: Slot[] = Array.from({ length: n }, (_, id) => ({ id, startedAt: 0, backoff: BACKOFF_MIN_MS }));

  const start = (slot: Slot) => {
    slot.startedAt = Date.now();
    const child = fork(MAIN, [], {
      env: { ...process.env, SENDER_PORT: String(port), LUNA_SENDER_WORKER_ID: String(slot.id) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    child.on('message', (m: { type?: string }) => {
      if (m?.type !== 'listening') return;
      listening++;
      if (listening === n) log.info({ port, workers: n }, `supervisor listening on port ${port} with ${n} workers`);
    });
    child.on('exit', (code, signal) => {
      slot.child = undefined;
      if (stopping) return;
      if (Date.now() - slot.startedAt > STABLE_MS) slot.backoff = BACKOFF_MIN_MS;
      const delay = slot.backoff;
      slot.backoff = Math.min(slot.backoff * 2, BACKOFF_MAX_MS);
      log.error({ worker: slot.id, pid: child.pid, code, signal, restart_in_ms: delay }, 'worker exited; restarting');
      setTimeout(() => !stopping && start(slot), delay).unref();
    });
  };
  for (const slot of slots) start(slot);

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'supervisor shutting down workers');
    const alive = slots.map((s) => s.child).filter((c): c is ChildProcess => c !== undefined && c.exitCode === null);
    const killer = setTimeout(() => {
      for (const c of alive) c.kill('SIGKILL');
    }, GRACE_MS);
    Promise.all(alive.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))))).then(() => {
      clearTimeout(killer);
      log.info('supervisor stopped');
      process.exit(0);
    });
    for (const c of alive) c.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
