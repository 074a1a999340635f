import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answeringPids, startPm2 } from '../helpers/pm2.js';
import { freePort } from '../helpers/port.js';
import { startRedis } from '../helpers/redis.js';

test('ecosystem.config.cjs runs the workers under PM2 in fork mode, sharing one port', async () => {
  const redis = await startRedis();
  const port = await freePort();
  const pm2 = startPm2(port, redis.url);
  try {
    // Both instances answer on the one port (each worker reports its own pid in /metrics).
    const pids = await answeringPids(port, 2);
    assert.equal(pids.size, 2, `workers answering: ${[...pids]}`);
    const apps = pm2.apps();
    assert.equal(apps.length, 2);
    for (const a of apps) {
      assert.equal(a.pm2_env.exec_mode, 'fork_mode');
      assert.equal(a.pm2_env.status, 'online');
    }
  } finally {
    pm2.stop();
    await redis.stop();
  }
});
