import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { spawnCaptured } from './spawn.js';
import { waitFor } from './wait.js';

/** The package root (this file runs from build/test/helpers/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface NpmStart {
  /** The `npm start` process itself: the pid a user or a service manager signals. */
  child: ChildProcess;
  port: number;
  /** Every gateway process that logged a listening line: the single worker, or supervisor and workers. */
  pids: number[];
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) of npm. */
  exited: Promise<number | string>;
}

interface LogLine {
  pid?: number;
  msg?: string;
  port?: number;
}

function logLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut in the middle; the next read completes it
    }
  }
  return lines;
}

/**
 * Runs `npm start` in `cwd`, resolved once the gateway listens: the single worker's listening line,
 * or with `workers` > 1 the supervisor's line and every worker's. Rejects with the
 * output when npm exits first or nothing listens within the deadline.
 */
export function npmStart(cwd: string, env: Record<string, string>, workers = 1, timeoutMs = 30000): Promise<NpmStart> {
  const { child, stdout, stderr, exited } = spawnCaptured('npm', ['start'], env, cwd);
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${why}\nstdout:\n${stdout()}\nstderr:\n${stderr()}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(`npm start did not listen within ${timeoutMs} ms`);
    }, timeoutMs);
    const onData = () => {
      const lines = logLines(stdout());
      const listening = lines.filter((l) => /listening on/.test(l.msg ?? ''));
      const supervisor = listening.find((l) => l.msg?.startsWith('supervisor listening'));
      const workerLines = listening.filter((l) => l !== supervisor);
      // The supervisor logs once every worker reported over IPC; a worker's own line may reach the
      // pipe after that, so wait for all of them.
      const ready = workers > 1 ? (workerLines.length >= workers ? supervisor : undefined) : workerLines[0];
      if (!ready?.port) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const pids = [...new Set(listening.map((l) => l.pid).filter((p): p is number => typeof p === 'number'))];
      resolve({ child, port: ready.port, pids, stdout, stderr, exited });
    };
    child.stdout!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      fail(`npm start exited with ${code}`);
    });
  });
}

/** The process exists and is not a zombie (a zombie holds no port; it waits only for its parent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves true when a TCP connect to 127.0.0.1:port is refused, false when it connects. */
export function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Waits (polling, with a deadline) until none of `pids` runs and the port refuses connections. */
export async function waitAllGone(pids: readonly number[], port: number, ms = 20000): Promise<void> {
  await waitFor(() => pids.every((p) => !isAlive(p)), `gateway processes ${pids.join(', ')} to exit`, ms);
  await waitFor(() => connectRefused(port), `port ${port} to refuse connections`, ms);
}

/** Cleanup after a failed test: SIGKILL whatever of `pids` still runs (only the pids we saw start). */
export function killLeftovers(pids: readonly number[]): void {
  for (const p of pids) {
    if (isAlive(p)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
