import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type UWS, uws } from '../../src/uws.js';
import { MAIN, spawnGateway, startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/port.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { spawnCaptured } from '../helpers/spawn.js';
import { withTimeout } from '../helpers/timeout.js';

// Regression (pipeline: a second in-process gateway on the same port): uWS binds with SO_REUSEPORT,
// so a second gateway on the in-process bus started and silently took half the connections. On
// the in-process bus the gateway now binds exclusively and refuses to start; with Redis the port
// is still shared.

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

/** `node build/src/main.js` on the in-process bus until it exits; a gateway that starts instead is a failure (and is killed). */
async function inProcessGatewayExit(port: number): Promise<{ code: number | string; stdout: string }> {
  const { child, stdout, exited } = spawnCaptured(process.execPath, [MAIN], { SENDER_PORT: String(port), REDIS_URL: '' });
  try {
    return { code: await withTimeout(exited, 20000, `the second gateway on port ${port} to refuse to start`), stdout: stdout() };
  } finally {
    child.kill('SIGKILL');
  }
}

/** A plain uWS listener (SO_REUSEPORT, as uWS binds by default) on an explicit port. */
function reuseportListener(port: number): Promise<UWS.us_listen_socket> {
  return new Promise((resolve, reject) => uws.App().listen('127.0.0.1', port, (s) => (s ? resolve(s) : reject(new Error(`cannot hold port ${port}`)))));
}

test('a second in-process gateway on the port of a running one refuses to start; the first keeps serving', async () => {
  const first = await startGateway();
  try {
    const second = await inProcessGatewayExit(first.port);
    assert.notEqual(second.code, 0);
    assert.match(second.stdout, new RegExp(`"level":60,.*"msg":"cannot listen on 127\\.0\\.0\\.1:${first.port}: the port is in use`));
    assert.match(second.stdout, /REDIS_URL/);
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${first.url}/metrics`);
      assert.equal(r.status, 200);
      await r.text();
      assert.equal(r.headers.get('luna-sender-worker'), String(process.pid), 'every connection reaches the first gateway');
    }
  } finally {
    await first.stop();
  }
});

test('the in-process gateway also refuses a port held by a non-exclusive (SO_REUSEPORT) listener', async () => {
  const port = await freePort();
  const holder = await reuseportListener(port);
  try {
    const gw = await inProcessGatewayExit(port);
    assert.notEqual(gw.code, 0);
    assert.match(gw.stdout, /the port is in use/);
  } finally {
    uws.us_listen_socket_close(holder);
  }
});

test('with Redis the gateway still shares its port (SO_REUSEPORT)', async () => {
  const port = await freePort();
  const holder = await reuseportListener(port);
  try {
    const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '1', SENDER_PORT: String(port) });
    assert.equal(gw.port, port);
    assert.equal(await gw.stop(), 0);
  } finally {
    uws.us_listen_socket_close(holder);
  }
});
