import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publishBody } from '../helpers/http.js';
import { parseResponse } from '../helpers/raw-http.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * /health/live, /health/ready and /healthcheck (SPEC 2 and 11): answered within 1 s whatever Redis
 * does; readiness is 503 29005 while Redis does not answer and while the worker drains. (The
 * `starting` state is not observable: a worker listens only once its bus reads, SPEC 11 and README.)
 */

/** The one contract bound on these answers. */
const BOUND_MS = 1000;

async function timed(url: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const t = performance.now();
  const a = await http(url, { signal: AbortSignal.timeout(10000) });
  return { status: a.status, body: a.json() as Record<string, unknown>, ms: performance.now() - t };
}

test('Redis paused (SIGSTOP): ready is 503 29005 and /healthcheck 502 within 1 s, live stays 200; both recover', async () => {
  const redis = await startRedis();
  const gw = await startGateway({ REDIS_URL: redis.url });
  let paused = false;
  try {
    const ready = await timed(`${gw.url}/health/ready`);
    assert.deepEqual([ready.status, ready.body], [200, { ready: true }]);
    assert.deepEqual((await timed(`${gw.url}/health/live`)).body, { live: true });
    redis.pause();
    paused = true;
    for (const path of ['/health/ready', '/healthcheck', '/health/live', '/health/ready']) {
      const a = await timed(`${gw.url}${path}`);
      assert.ok(a.ms < BOUND_MS, `${path} took ${Math.round(a.ms)} ms while Redis hangs`);
      if (path === '/health/live') {
        assert.equal(a.status, 200);
        continue;
      }
      assert.equal(a.status, path === '/healthcheck' ? 502 : 503, path);
      assert.equal(a.body.error_code, 29005);
      assert.match(String(a.body.detail), /^redis: timeout after 500ms$/);
    }
    redis.resume();
    paused = false;
    await waitFor(async () => (await timed(`${gw.url}/health/ready`)).status === 200, 'ready again after SIGCONT');
    assert.equal((await timed(`${gw.url}/healthcheck`)).status, 200);
  } finally {
    if (paused) redis.resume();
    await gw.stop();
    await redis.stop();
  }
});

test('Redis gone: ready is 503 with the reason; the in-process bus is always ready', async () => {
  const redis = await startRedis();
  const gw = await startGateway({ REDIS_URL: redis.url });
  const mem = await startGateway();
  try {
    await redis.kill();
    await waitFor(async () => (await timed(`${gw.url}/health/ready`)).status === 503, 'not ready without Redis');
    const a = await timed(`${gw.url}/health/ready`);
    assert.equal(a.body.error_code, 29005);
    assert.match(String(a.body.detail), /^redis: /);
    assert.equal((await timed(`${mem.url}/health/ready`)).status, 200);
    await redis.start();
    await waitFor(async () => (await timed(`${gw.url}/health/ready`)).status === 200, 'ready after Redis is back');
  } finally {
    await mem.stop();
    await gw.stop();
    await redis.stop();
  }
});

/** A keep-alive connection that sends requests one at a time and reads each answer. */
async function keepAlive(port: number): Promise<{ socket: Socket; get(path: string): Promise<{ status: number; head: string; body: string }> }> {
  const socket = createConnection({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  return {
    socket,
    async get(path) {
      buf = Buffer.alloc(0);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      let answer: ReturnType<typeof parseResponse> | undefined;
      await waitFor(() => {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return false;
        const length = Number(/content-length: (\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
        if (buf.length < end + 4 + length) return false;
        answer = parseResponse(buf);
        return true;
      }, `an answer to ${path}`);
      return answer!;
    },
  };
}

test('draining for shutdown: ready is 503 on a connection that was open before, until the worker is gone', async () => {
  // A long Redis timeout holds the drain open for the unfinished publish below (it waits for it).
  const gw = await startGateway({ SENDER_REDIS_TIMEOUT: '30' });
  const probe = await keepAlive(gw.port);
  const upload = await keepAlive(gw.port);
  try {
    // A request on each connection first: both are accepted by the worker, not queued in the kernel.
    assert.equal((await probe.get('/health/ready')).status, 200);
    assert.equal((await upload.get('/health/live')).status, 200);
    // A publish whose body has not all arrived: an HTTP request in progress, which the drain waits for.
    const body = publishBody([{ draining: true }]);
    let uploadAnswer = '';
    upload.socket.on('data', (d: Buffer) => (uploadAnswer += d.toString()));
    upload.socket.write(
      `POST /1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nLuna-Account-Id: ${ACCOUNT}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    const stopped = gw.stop();
    const a = await probe.get('/health/ready');
    assert.equal(a.status, 503);
    assert.deepEqual(JSON.parse(a.body), { error_code: 29005, desc: 'Service unavailable', detail: 'worker draining for shutdown' });
    assert.match(a.head, /connection: close/i, 'while draining every answer closes its connection');
    upload.socket.write(body.slice(5));
    await stopped;
    assert.match(uploadAnswer, /^HTTP\/1\.1 201/, 'the request in progress was answered');
  } finally {
    probe.socket.destroy();
    upload.socket.destroy();
  }
});
