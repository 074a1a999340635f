import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { freePort } from '../helpers/port.js';
import { startRedis } from '../helpers/redis.js';
import { connect } from '../helpers/ws-client.js';

test('Redis Sentinel: the gateway finds the master through a real Sentinel and delivers', async () => {
  const master = await startRedis();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'luna-sender-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`);
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  try {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    probe.on('error', () => undefined); // refused until the Sentinel listens
    let addr: unknown;
    for (let i = 0; i < 100 && !Array.isArray(addr); i++) {
      addr = await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster').catch(() => undefined);
      if (!Array.isArray(addr)) await new Promise((r) => setTimeout(r, 100));
    }
    probe.disconnect();
    assert.deepEqual(addr, ['127.0.0.1', String(master.port)]);

    const gw = await startGateway({ REDIS_SENTINELS: `127.0.0.1:${port}`, REDIS_SENTINEL_NAME: 'mymaster' });
    try {
      const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
      assert.equal((await publish(gw.url, publishBody([{ via: 'sentinel' }]))).status, 201);
      const [msg] = await c.waitFor(1);
      assert.match(msg, /"via":"sentinel"/);
      assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
      c.close();
    } finally {
      await gw.stop();
    }
  } finally {
    sentinel.kill('SIGKILL');
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
