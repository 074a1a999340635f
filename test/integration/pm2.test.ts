import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/port.js';
import { startRedis } from '../helpers/redis.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2');

test('ecosystem.config.cjs runs the workers under PM2 in fork mode, sharing one port', async () => {
  const redis = await startRedis();
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), 'luna-sender-pm2-'));
  const env = { ...process.env, PM2_HOME: home, SENDER_PORT: String(port), SENDER_WORKERS: '2', REDIS_URL: redis.url };
  try {
    const start = spawnSync(PM2, ['start', 'ecosystem.config.cjs'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60000 });
    assert.equal(start.status, 0, start.stderr);
    const pids = new Set<string>();
    // Both instances answer on the one port: poll /metrics (each worker reports its own pid).
    for (let i = 0; i < 300 && pids.size < 2; i++) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Connection: 'close' } }).then(
        (r) => r.text(),
        () => '',
      );
      const pid = /^luna_sender_process_pid (\d+)$/m.exec(text)?.[1];
      if (pid) pids.add(pid);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(pids.size, 2, `workers answering: ${[...pids]}`);
    const list = spawnSync(PM2, ['jlist'], { cwd: ROOT, env, encoding: 'utf8', timeout: 30000 });
    const apps = JSON.parse(list.stdout) as Array<{ pm2_env: { exec_mode: string; status: string } }>;
    assert.equal(apps.length, 2);
    for (const a of apps) {
      assert.equal(a.pm2_env.exec_mode, 'fork_mode');
      assert.equal(a.pm2_env.status, 'online');
    }
  } finally {
    spawnSync(PM2, ['kill'], { cwd: ROOT, env, timeout: 30000 });
    rmSync(home, { recursive: true, force: true });
    await redis.stop();
  }
});
