import { cpus } from 'node:os';
import { createAuth } from './auth/index.js';
import { type Config, ConfigError, loadConfig, workerCount } from './config/index.js';
import { createLogger } from './log.js';

/**
 * Entry point (`npm start`): load and validate the configuration, then run one worker in this
 * process (in-process bus, or SENDER_WORKERS=1) or the supervisor that forks N workers.
 * Exits non-zero with a readable message on a bad configuration or a missing native uWS binary.
 */
function die(message: string): never {
  process.stderr.write(`luna-sender: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    // The token keys are read here too, so that a bad key file stops the start before any worker is
    // forked (each worker reads them again: keys are not shared between processes).
    createAuth(config);
  } catch (err) {
    if (err instanceof ConfigError) die(err.message);
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  let worker: typeof import('./worker.js');
  try {
    // Loading the worker loads uWebSockets.js, which refuses its pure-JS fallback.
    worker = await import('./worker.js');
  } catch (err) {
    if ((err as Error).name === 'UwsFallbackError') die((err as Error).message);
    throw err;
  }
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
  try {
    running = await worker.startWorker(config, { log });
  } catch (err) {
    if ((err as Error).name === 'ListenError') die((err as Error).message);
    throw err;
  }
  // Tell a supervising parent (ours or a test) which port we got. PM2 (`wait_ready`) waits for
  // 'ready': during `pm2 reload` it stops the next instance only once this one accepts.
  process.send?.({ type: 'listening', port: running.port });
  if (process.env.pm_id !== undefined) process.send?.('ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`luna-sender: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
