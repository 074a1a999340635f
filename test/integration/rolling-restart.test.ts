import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import { spawnGateway } from '../helpers/gateway.js';
import { publish, publishBody } from '../helpers/http.js';
import { ROOT } from '../helpers/npm-start.js';
import { answeringPids, PM2, type Pm2, startPm2 } from '../helpers/pm2.js';
import { freePort } from '../helpers/port.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { type LoadResult, startLoad, tcpMigrateReq, watchedSubscribers } from '../helpers/rolling-load.js';
import { withTimeout } from '../helpers/timeout.js';
import { waitFor } from '../helpers/wait.js';

// SPEC 11, rolling restart: real processes under PM2 and under our supervisor, a real Redis, real
// clients. While the workers are replaced, a publish loop and WebSocket connect loops run; every
// publish must be 201, no connect refused, and each subscriber of an old worker closed with 1001.

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

/**
 * Connects reset by the kernel when a listener with connections in its accept queue closes are the
 * one failure the gateway cannot prevent (SO_REUSEPORT; no user-space way to stop new connections
 * reaching a listener but closing it). With net.ipv4.tcp_migrate_req=1 the kernel hands them to
 * another listener, and then none may fail; without it they are counted and reported.
 */
function assertLoad(t: TestContext, r: LoadResult): void {
  t.diagnostic(`published ${r.published}, connected ${r.connected}, reset ${r.reset} (tcp_migrate_req ${tcpMigrateReq() ? 1 : 0})`);
  assert.deepEqual(r.publishFailures, [], 'every publish answered 201');
  assert.equal(r.refused, 0, 'no connect refused');
  assert.deepEqual(r.connectFailures, [], 'every connect got its 101 (or, see reset, was reset in the accept queue)');
  if (tcpMigrateReq()) assert.equal(r.reset, 0, 'no connect reset: the kernel migrates queued connections');
  assert.ok(r.published > 0 && r.connected > 0, 'the load ran');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** The pids of the PM2 instances online now. */
function pm2Pids(pm2: Pm2): number[] {
  return pm2
    .apps()
    .filter((a) => a.pm2_env.status === 'online')
    .map((a) => a.pid);
}

test('pm2 reload under load: no refused connect, no failed publish, old subscribers closed with 1001 after the reload began', async (t) => {
  const port = await freePort();
  const pm2 = startPm2(port, redis.url);
  try {
    await answeringPids(port, 2);
    const before = pm2Pids(pm2);
    assert.equal(before.length, 2);
    let reloading = false;
    const subscribers = await watchedSubscribers(port, 10, () => reloading);
    const load = startLoad(port);
    reloading = true;
    const reload = await withTimeout(run(PM2, ['reload', 'luna-sender'], pm2.env), 90000, 'pm2 reload');
    const result = await load.stop();
    assert.equal(reload.code, 0, reload.out);
    const afterPids = pm2Pids(pm2);
    assert.equal(afterPids.length, 2);
    assert.ok(
      afterPids.every((p) => !before.includes(p)),
      `both instances replaced: ${before} -> ${afterPids}`,
    );
    assertLoad(t, result);
    for (const s of subscribers) assert.deepEqual(await withTimeout(s.close, 20000, 'subscriber close'), { code: 1001, afterStart: true });
  } finally {
    pm2.stop();
  }
});

test('supervisor SIGHUP under load: workers replaced one at a time, no refused connect, no failed publish, 1001 to old subscribers', async (t) => {
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2' });
  try {
    const before = await answeringPids(gw.port, 2);
    let rolling = false;
    const subscribers = await watchedSubscribers(gw.port, 10, () => rolling);
    const load = startLoad(gw.port);
    rolling = true;
    gw.child.kill('SIGHUP');
    await waitFor(() => /"msg":"rolling restart: done"/.test(gw.stdout()), 'the rolling restart to finish', 60000);
    const result = await load.stop();
    assertLoad(t, result);
    for (const s of subscribers) assert.deepEqual(await withTimeout(s.close, 20000, 'subscriber close'), { code: 1001, afterStart: true });
    // One worker replaced after the other: each old worker got SIGTERM only after its replacement listened.
    const steps = [...gw.stdout().matchAll(/"msg":"rolling restart: replacement listening; stopping the old worker"/g)];
    assert.equal(steps.length, 2);
    const now = await answeringPids(gw.port, 2);
    assert.ok(
      [...now].every((p) => !before.has(p)),
      `both workers replaced: ${[...before]} -> ${[...now]}`,
    );
    assert.equal(await gw.stop('SIGTERM'), 0);
  } finally {
    gw.child.kill('SIGKILL');
  }
});

test('supervisor SIGHUP with a configuration the replacement refuses: aborted, the old workers keep serving', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'luna-sender-roll-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ SENDER_PING_INTERVAL: 30 }));
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2', SENDER_CONFIG: configFile });
  try {
    const before = await answeringPids(gw.port, 2);
    const subscribers = await watchedSubscribers(gw.port, 6, () => true);
    let closedEarly = false;
    for (const s of subscribers) s.close.then(() => (closedEarly = true));
    writeFileSync(configFile, JSON.stringify({ SENDER_PING_INTERVAL: -1 }));
    gw.child.kill('SIGHUP');
    await waitFor(() => /"msg":"rolling restart aborted/.test(gw.stdout()), 'the rolling restart to give up', 60000);
    assert.match(gw.stdout(), /"level":60,.*SENDER_PING_INTERVAL/, 'the replacement said why it refused to start');
    // The old workers still serve: their subscribers are open and get what is published now.
    const a = await publish(gw.url, publishBody([{ seq: 1 }]), {}, 2);
    assert.equal(a.status, 201, a.text);
    for (const s of subscribers) await s.client.waitFor(1);
    assert.equal(closedEarly, false, 'no subscriber of an old worker was closed');
    const now = await answeringPids(gw.port, 2);
    assert.deepEqual([...now].sort(), [...before].sort(), 'the same workers serve');
    // Fixed, the next SIGHUP goes through.
    writeFileSync(configFile, JSON.stringify({ SENDER_PING_INTERVAL: 30 }));
    gw.child.kill('SIGHUP');
    await waitFor(() => /"msg":"rolling restart: done"/.test(gw.stdout()), 'the second rolling restart to finish', 60000);
    for (const s of subscribers) assert.equal((await withTimeout(s.close, 20000, 'subscriber close')).code, 1001);
    assert.equal(await gw.stop('SIGTERM'), 0);
  } finally {
    gw.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
