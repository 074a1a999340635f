import { type ChildProcess, spawn } from 'node:child_process';

export interface Captured {
  child: ChildProcess;
  /** Everything the process wrote so far. */
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * A gateway-like child process with its output captured: `SENDER_HOST` 127.0.0.1, `SENDER_PORT` 0
 * and `LOG_LEVEL` info unless `env` says otherwise (the start-up line names the port).
 */
export function spawnCaptured(command: string, args: readonly string[], env: Record<string, string>, cwd?: string): Captured {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, SENDER_HOST: '127.0.0.1', SENDER_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}
