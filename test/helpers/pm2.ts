import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './npm-start.js';
import { waitFor } from './wait.js';

/** The project's own pm2 command. */
export const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2');

export interface Pm2App {
  pid: number;
  pm2_env: { exec_mode: string; status: string };
}

export interface Pm2 {
  /** The environment of this PM2 (its own PM2_HOME), for further `pm2` commands. */
  readonly env: NodeJS.ProcessEnv;
  /** `pm2 <args>` in the project root, synchronously. */
  run(args: string[], timeoutMs?: number): ReturnType<typeof spawnSync>;
  /** `pm2 jlist`: every app PM2 runs. */
  apps(): Pm2App[];
  /** Kills this PM2 and removes its home. */
  stop(): void;
}

/** `pm2 start ecosystem.config.cjs` with a private PM2_HOME: two fork-mode workers on `port`. */
export function startPm2(port: number, redisUrl: string): Pm2 {
  const home = mkdtempSync(join(tmpdir(), 'luna-sender-pm2-'));
  const env = { ...process.env, PM2_HOME: home, SENDER_PORT: String(port), SENDER_WORKERS: '2', REDIS_URL: redisUrl };
  const run = (args: string[], timeoutMs = 60000) => spawnSync(PM2, args, { cwd: ROOT, env, encoding: 'utf8', timeout: timeoutMs });
  const pm2: Pm2 = {
    env,
    run,
    apps: () => JSON.parse(String(run(['jlist'], 30000).stdout)) as Pm2App[],
    stop() {
      run(['kill'], 30000);
      rmSync(home, { recursive: true, force: true });
    },
  };
  const start = run(['start', 'ecosystem.config.cjs']);
  if (start.status !== 0) {
    pm2.stop();
    throw new Error(`pm2 start failed: ${String(start.stderr)}`);
  }
  return pm2;
}

/**
 * One /metrics on the port over a fresh connection (so the kernel may pick any worker): the text
 * and the answering worker's pid (its Luna-Sender-Worker header); undefined when the connection
 * failed (one queued at a worker that just died is reset).
 */
export async function scrapeOnce(port: number): Promise<{ pid: string; text: string } | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Connection: 'close' } });
    const text = await r.text();
    return { pid: r.headers.get('luna-sender-worker') ?? 'unknown', text };
  } catch {
    return undefined;
  }
}

/** The pids that answer /metrics on the port, until `n` distinct ones did. */
export async function answeringPids(port: number, n: number): Promise<Set<string>> {
  const pids = new Set<string>();
  await waitFor(async () => {
    const got = await scrapeOnce(port);
    if (got) pids.add(got.pid);
    return pids.size >= n;
  }, `${n} workers answering on port ${port}`);
  return pids;
}
