import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { killLeftovers, type NpmStart, npmStart, ROOT, waitAllGone } from '../helpers/npm-start.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { withTimeout } from '../helpers/timeout.js';

// Regression (pipeline: signals reach the gateway): `kill <pid of npm start>` left the gateway
// running, orphaned and holding the port, because npm forwards the signal to the `sh -c` it runs
// the script with, and sh died without passing it on. The start script now `exec`s node, so npm's
// forwarded signal reaches the gateway (or the supervisor, which passes it to its workers).

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

async function signalNpmAndExpectNothingLeft(signal: NodeJS.Signals, env: Record<string, string>, workers: number): Promise<void> {
  const run: NpmStart = await npmStart(ROOT, env, workers);
  try {
    assert.equal(run.pids.length, workers > 1 ? workers + 1 : 1, `listening pids: ${run.stdout()}`);
    assert.ok(!run.pids.includes(run.child.pid!), 'the gateway runs as a child of npm');
    run.child.kill(signal);
    await waitAllGone(run.pids, run.port);
    assert.equal(await withTimeout(run.exited, 20000, 'npm to exit'), 0, 'npm exits 0 after a clean shutdown');
    assert.match(run.stdout(), new RegExp(`"signal":"${signal}"`), 'the gateway saw the signal and shut down as in section 4');
  } finally {
    killLeftovers(run.pids);
    run.child.kill('SIGKILL');
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to npm start reaches the in-process gateway: it exits and frees the port`, async () => {
    await signalNpmAndExpectNothingLeft(signal, { REDIS_URL: '', SENDER_WORKERS: '1' }, 1);
  });

  test(`${signal} to npm start reaches the supervisor and both workers: all exit and the port is free`, async () => {
    await signalNpmAndExpectNothingLeft(signal, { REDIS_URL: redis.url, SENDER_WORKERS: '2' }, 2);
  });
}
