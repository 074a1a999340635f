import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { type RunningWorker, startWorker } from '../../src/worker.js';
import { spawnCaptured } from './spawn.js';

export interface Gateway {
  port: number;
  url: string;
  worker: RunningWorker;
  stop(): Promise<void>;
}

/** The real gateway (one worker) in this process, on a free port, quiet unless LOG_LEVEL is given. */
export async function startGateway(env: Record<string, string> = {}): Promise<Gateway> {
  const config = loadConfig({ SENDER_HOST: '127.0.0.1', SENDER_PORT: '0', LOG_LEVEL: 'silent', ...env });
  const worker = await startWorker(config, { log: createLogger(config.LOG_LEVEL) });
  return { port: worker.port, url: `${scheme(config.SENDER_TLS_CERT_FILE)}://127.0.0.1:${worker.port}`, worker, stop: () => worker.close() };
}

/** `https` when the gateway serves TLS (SENDER_TLS_CERT_FILE given), so tests build wss URLs from it too. */
function scheme(certFile: string | undefined): 'http' | 'https' {
  return certFile ? 'https' : 'http';
}

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * `node build/src/main.js` as a child process (the code `npm start` runs from dist/, compiled with the tests), resolved when its start-up
 * log line names the port. Rejects with the output when it exits first.
 */
export function spawnGateway(env: Record<string, string> = {}, timeoutMs = 20000): Promise<GatewayProcess> {
  const { child, stdout, stderr, exited } = spawnCaptured(process.execPath, [MAIN], env);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${timeoutMs} ms\nstdout:\n${stdout()}\nstderr:\n${stderr()}`));
    }, timeoutMs);
    const onData = () => {
      const out = stdout();
      const m = /"msg":"luna-sender listening on [^"]*:(\d+)"/.exec(out) ?? /supervisor listening on port (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const port = Number(m[1]);
      resolve({
        child,
        port,
        url: `${scheme(env.SENDER_TLS_CERT_FILE)}://127.0.0.1:${port}`,
        stdout,
        stderr,
        exited,
        stop: (signal = 'SIGTERM') => {
          child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}\nstdout:\n${stdout()}\nstderr:\n${stderr()}`));
    });
  });
}
