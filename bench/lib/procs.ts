import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/port.js';

/**
 * Child processes of one benchmark: every process is started in its own process group (detached)
 * so that killing the group also takes any workers it forked, and every group is killed when the
 * benchmark ends, fails, or is interrupted. Nothing is found by name; only the pids we started.
 */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The dev build (tsconfig.json): benchmarks spawn the same compiled code they import. */
export const BUILD = `${ROOT}build/`;

let hasTaskset: boolean | undefined;
function tasksetAvailable(): boolean {
  if (hasTaskset === undefined) {
    try {
      execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
      hasTaskset = true;
    } catch {
      hasTaskset = false;
      process.stderr.write('bench: taskset not available; processes are not pinned to CPUs\n');
    }
  }
  return hasTaskset;
}

/** CPU sets: servers (and Redis) on the first CPU, load generators on the second. */
let hasPrlimit: boolean | undefined;
function canRaiseHardLimit(): boolean {
  if (hasPrlimit === undefined) {
    try {
      execFileSync('prlimit', ['--nofile=30000:30000', '--', 'true'], { stdio: 'ignore' });
      hasPrlimit = true;
    } catch {
      hasPrlimit = false;
      process.stderr.write('bench: cannot raise the hard fd limit (prlimit, root); using ulimit -Hn\n');
    }
  }
  return hasPrlimit;
}

export const SERVER_CPU = '0';
export const CLIENT_CPU = '1';

// One freePort for tests and benchmarks (same concept: listen on 0, close).
export { freePort };

export interface SpawnOptions {
  cpu?: string;
  env?: Record<string, string>;
  /** Resolves `ready` when a line of stdout or stderr matches. */
  ready?: RegExp;
  readyTimeoutMs?: number;
  /** Open an IPC channel (Node children). */
  ipc?: boolean;
  /**
   * Raise the soft fd limit (up to the hard limit) before exec; a number: set both limits to it
   * with `prlimit` (raising the hard limit needs root; without it, the hard limit is used).
   */
  nofile?: boolean | number;
  /** Node flags placed before the script (nodeScript only). */
  nodeFlags?: string[];
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The first line matching `ready`, once seen. */
  readonly ready: Promise<string>;
  /** Last lines of output, for error messages. */
  tail(): string;
}

const live = new Set<Proc>();

function killGroup(p: Proc, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.pid, signal);
  } catch {
    try {
      process.kill(p.pid, signal);
    } catch {
      /* gone */
    }
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const p of live) killGroup(p, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of live) killGroup(p, 'SIGKILL');
      process.exit(130);
    });
  }
}

export function start(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  hookExit();
  let file = cmd;
  let argv = args;
  if (opts.cpu !== undefined && tasksetAvailable()) {
    argv = ['-c', opts.cpu, file, ...argv];
    file = 'taskset';
  }
  if (typeof opts.nofile === 'number' && canRaiseHardLimit()) {
    argv = [`--nofile=${opts.nofile}:${opts.nofile}`, '--', file, ...argv];
    file = 'prlimit';
  } else if (opts.nofile) {
    // `ulimit -n` of the shell, then exec: the benchmark keeps its own limit.
    argv = ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$@"', 'sh', file, ...argv];
    file = 'sh';
  }
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let readyResolve!: (line: string) => void;
  let readyReject!: (err: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined);
  let isReady = opts.ready === undefined;
  if (isReady) readyResolve('');
  const onData = (buf: Buffer) => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      if (!isReady && opts.ready!.test(line)) {
        isReady = true;
        readyResolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const proc: Proc = { name, child, pid: child.pid ?? -1, ready, tail: () => lines.join('\n') };
  if (proc.pid < 0) throw new Error(`${name}: spawn failed`);
  live.add(proc);
  const timer = setTimeout(
    () => readyReject(new Error(`${name}: not ready after ${opts.readyTimeoutMs ?? 20000} ms\n${proc.tail()}`)),
    opts.readyTimeoutMs ?? 20000,
  );
  ready.finally(() => clearTimeout(timer)).catch(() => undefined);
  child.once('exit', (code, signal) => {
    live.delete(proc);
    clearTimeout(timer);
    if (!isReady) readyReject(new Error(`${name} exited (${code ?? signal}) before ready\n${proc.tail()}`));
  });
  return proc;
}

/** SIGTERM the group, then SIGKILL whatever is left after `graceMs`. */
export async function stop(p: Proc, graceMs = 3000): Promise<void> {
  if (!live.has(p)) return;
  const exited = new Promise<void>((res) => p.child.once('exit', () => res()));
  killGroup(p, 'SIGTERM');
  const t = setTimeout(() => killGroup(p, 'SIGKILL'), graceMs);
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 2000))]);
  clearTimeout(t);
  killGroup(p, 'SIGKILL');
  live.delete(p);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stop(p)));
}

/** Runs `fn`, then stops every process started meanwhile, whatever happened. */
export async function withProcs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await stopAll();
  }
}

export function nodeScript(name: string, script: string, args: string[], opts: SpawnOptions = {}): Proc {
  return start(name, process.execPath, [...(opts.nodeFlags ?? []), `${BUILD}${script}`, ...args], opts);
}

export async function startRedis(): Promise<{ proc: Proc; url: string; port: number }> {
  const port = await freePort();
  const proc = start('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    // BENCH_REDIS_CPU: another CPU set for Redis (e.g. 1, with the load generators), to see what
    // sharing the server's core costs the server.
    cpu: process.env.BENCH_REDIS_CPU ?? SERVER_CPU,
    ready: /Ready to accept connections/,
  });
  await proc.ready;
  return { proc, url: `redis://127.0.0.1:${port}`, port };
}

/** Sends a message over IPC and waits for the first reply of the given type. */
export function request<T>(p: Proc, msg: object, replyType: string, timeoutMs = 30000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMsg = (m: unknown) => {
      const r = m as { type?: string; error?: string };
      if (r.type === 'error') {
        cleanup();
        reject(new Error(`${p.name}: ${r.error}`));
      } else if (r.type === replyType) {
        cleanup();
        resolve(m as T);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`${p.name} exited while waiting for ${replyType}\n${p.tail()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${p.name}: no ${replyType} within ${timeoutMs} ms\n${p.tail()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      p.child.off('message', onMsg);
      p.child.off('exit', onExit);
    };
    p.child.on('message', onMsg);
    p.child.once('exit', onExit);
    p.child.send(msg);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
