import { cpus } from 'node:os';
import { createAuth } from './auth/index.js';
import { type Config, loadConfig, workerCount } from './config/index.js';
import { createLogger, fatalExit, type Logger } from './log.js';

// Stack traces name .ts lines (dist/ ships the .map files) for every module loaded from here on,
// plugins included, however the process was started (imports above are hoisted anyway: `npm start`
// and the PM2 file pass --enable-source-maps, which covers them and this file). Free until a stack is
// formatted: Node maps frames only then (README, Logs and metrics).
process.setSourceMapsEnabled(true);

/**
 * Entry point (`npm start`): load and validate the configuration, then run one worker in this
 * process (in-process bus, or SENDER_WORKERS=1) or the supervisor that forks N workers.
 * Anything that stops the start (a bad configuration, no native uWS binary, a port that cannot be
 * bound) or any later uncaught error ends the process with one pino line at level fatal, exit 1.
 */

/** Refusals whose message says it all: logged without a stack. */
const REFUSALS = new Set(['ConfigError', 'UwsFallbackError', 'ListenError']);

function die(log: Logger, err: unknown): Promise<never> {
  const e = err instanceof Error ? err : new Error(String(err));
  return REFUSALS.has(e.name) ? fatalExit(log, { err: { type: e.name } }, e.message) : fatalExit(log, { err: e }, `fatal: ${e.message}`);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    // The token keys are read here too, so that a bad key file stops the start before any worker is
    // forked (each worker reads them again: keys are not shared between processes).
    createAuth(config);
  } catch (err) {
    // No configured level yet: fatal passes any level.
    return die(createLogger('info'), err);
  }
  const log = createLogger(config.LOG_LEVEL);
  process.on('uncaughtException', (err) => void die(log, err));
  // Loading the worker loads uWebSockets.js (src/uws.ts), which throws at import time when no
  // native binary loads; the dynamic import is where that becomes one fatal line.
  const worker = await import('./worker.js').catch((err: unknown) => die(log, err));
  const { uwsBuild } = await import('./uws.js');
  log.info({ uws: uwsBuild }, `uWebSockets.js ${uwsBuild.version} native (${uwsBuild.package}, ${uwsBuild.binary})`);
  const n = workerCount(config, cpus().length);
  // Under our supervisor or PM2 (which sets pm_id) this process is one worker.
  const isWorker = process.env.LUNA_SENDER_WORKER_ID !== undefined || process.env.pm_id !== undefined;
  if (n > 1 && !isWorker) {
    const { runSupervisor } = await import('./supervisor.js');
    return runSupervisor(config, n, log);
  }
  // Handlers go in before the worker starts: its listening line is logged inside startWorker, and
  // a signal sent as soon as that line appears must not meet Node's default (die without closing).
  // A signal while starting exits at once; there is nothing to drain yet.
  let running: Awaited<ReturnType<typeof worker.startWorker>> | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    if (running === undefined) process.exit(0);
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // A worker whose supervisor is gone (even SIGKILLed) must not linger holding the port.
  process.once('disconnect', () => stop('supervisor gone'));
  // The supervisor's rolling-restart signal is for the supervisor; a terminal hang-up reaches the
  // whole process group, and the supervisor then replaces its workers one by one.
  if (process.env.LUNA_SENDER_WORKER_ID !== undefined) process.on('SIGHUP', () => log.info('SIGHUP ignored: the supervisor restarts workers'));
  running = await worker.startWorker(config, { log }).catch((err: unknown) => die(log, err));
  // Tell a supervising parent (ours or a test) which port we got. PM2 (`wait_ready`) waits for
  // 'ready': during `pm2 reload` it stops the next instance only once this one accepts.
  process.send?.({ type: 'listening', port: running.port });
  if (process.env.pm_id !== undefined) process.send?.('ready');
}

main().catch((err: unknown) => die(createLogger('info'), err));
