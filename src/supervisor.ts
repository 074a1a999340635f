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
 *
 * SIGHUP is a rolling restart (ROLL_SIGNAL): worker after worker, a replacement is forked (new
 * code from disk, SENDER_CONFIG read again) and, once it reports `listening`, the old worker gets
 * SIGTERM and the next one waits for its exit; so the port always has N listeners, at most N + 1,
 * and an old worker's sockets are closed (1001) only after its replacement accepts. A replacement
 * that exits or does not listen within START_TIMEOUT_MS stops the rolling restart: the old worker
 * keeps serving and the failure is logged.
 */
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const STABLE_MS = 60_000;
const GRACE_MS = 10_000;
/** A worker waits for Redis at start-up; a replacement that is not listening by then has failed. */
const START_TIMEOUT_MS = 30_000;
export const ROLL_SIGNAL = 'SIGHUP';

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
  /** The worker serving this slot; a replacement becomes it only once it listens. */
  child?: ChildProcess;
  startedAt: number;
  backoff: number;
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** Resolves true on the child's `listening` message, false when it exits first or after `ms`. */
function listeningOrNot(child: ChildProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(ok);
    };
    const onMessage = (m: { type?: string }) => m?.type === 'listening' && done(true);
    const onExit = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function runSupervisor(config: Config, n: number, log: Logger): Promise<void> {
  const port = config.SENDER_PORT === 0 ? await freePort(config.SENDER_HOST) : config.SENDER_PORT;
  let stopping = false;
  let rolling = false;
  let listening = 0;
  /** Every worker process alive, replacements and retiring ones included: what a stop must end. */
  const live = new Set<ChildProcess>();
  const slots: Slot[] = Array.from({ length: n }, (_, id) => ({ id, startedAt: 0, backoff: BACKOFF_MIN_MS }));

  const spawnWorker = (slot: Slot): ChildProcess => {
    const child = fork(MAIN, [], {
      env: { ...process.env, SENDER_PORT: String(port), LUNA_SENDER_WORKER_ID: String(slot.id) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.on('exit', (code, signal) => {
      live.delete(child);
      // Only the slot's current worker is restarted: not a retired one, not a failed replacement.
      if (stopping || slot.child !== child) return;
      slot.child = undefined;
      if (Date.now() - slot.startedAt > STABLE_MS) slot.backoff = BACKOFF_MIN_MS;
      const delay = slot.backoff;
      slot.backoff = Math.min(slot.backoff * 2, BACKOFF_MAX_MS);
      log.error({ worker: slot.id, pid: child.pid, code, signal, restart_in_ms: delay }, 'worker exited; restarting');
      setTimeout(() => !stopping && slot.child === undefined && start(slot), delay).unref();
    });
    return child;
  };

  const start = (slot: Slot) => {
    slot.startedAt = Date.now();
    const child = spawnWorker(slot);
    slot.child = child;
    child.on('message', (m: { type?: string }) => {
      if (m?.type !== 'listening') return;
      listening++;
      if (listening === n) log.info({ port, workers: n }, `supervisor listening on port ${port} with ${n} workers`);
    });
  };
  for (const slot of slots) start(slot);

  const roll = async () => {
    if (stopping) return;
    if (rolling) {
      log.warn('rolling restart already running; signal ignored');
      return;
    }
    rolling = true;
    log.info({ workers: n }, 'rolling restart: begin');
    try {
      for (const slot of slots) {
        const old = slot.child;
        // A slot waiting for its backoff restart gets the new code then anyway.
        if (stopping || old === undefined) continue;
        const fresh = spawnWorker(slot);
        if (!(await listeningOrNot(fresh, START_TIMEOUT_MS))) {
          fresh.kill('SIGKILL');
          if (stopping) return;
          log.error(
            { worker: slot.id, pid: fresh.pid, code: fresh.exitCode, signal: fresh.signalCode },
            'rolling restart aborted: the replacement did not start; the old workers keep serving',
          );
          return;
        }
        if (stopping) return; // stop() has signalled every live worker, fresh included
        slot.child = fresh;
        slot.startedAt = Date.now();
        slot.backoff = BACKOFF_MIN_MS;
        log.info({ worker: slot.id, pid: fresh.pid, old_pid: old.pid }, 'rolling restart: replacement listening; stopping the old worker');
        const killer = setTimeout(() => old.kill('SIGKILL'), GRACE_MS);
        old.kill('SIGTERM');
        await exited(old);
        clearTimeout(killer);
      }
      if (!stopping) log.info({ workers: n }, 'rolling restart: done');
    } finally {
      rolling = false;
    }
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'supervisor shutting down workers');
    const alive = [...live];
    const killer = setTimeout(() => {
      for (const c of alive) c.kill('SIGKILL');
    }, GRACE_MS);
    Promise.all(alive.map(exited)).then(() => {
      clearTimeout(killer);
      log.info('supervisor stopped');
      process.exit(0);
    });
    for (const c of alive) c.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on(ROLL_SIGNAL, () => void roll());
}
