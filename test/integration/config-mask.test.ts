import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { http } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// A real Redis whose user's password contains '@' and '!': ioredis (WHATWG URL) connects with it,
// and /config must show none of it.
const PASSWORD = 'S3cr@t-pw!';
let redis: TestRedis;
let gw: Gateway;
before(async () => {
  redis = await startRedis(['--user', 'alice', 'on', `>${PASSWORD}`, '~*', '&*', '+@all']);
  gw = await startGateway({ REDIS_URL: `redis://alice:${PASSWORD}@127.0.0.1:${redis.port}/0` });
});
after(async () => {
  await gw?.stop();
  await redis?.stop();
});

test('regression: GET /config masks all of a Redis URL password that contains @', async () => {
  // The gateway authenticates with these credentials (a wrong password would fail AUTH: 502).
  assert.equal((await http(`${gw.url}/healthcheck`)).status, 200);
  const json = await http(`${gw.url}/config`);
  assert.equal(json.json().REDIS_URL, `redis://alice:********@127.0.0.1:${redis.port}/0`);
  const text = await http(`${gw.url}/config`, { headers: { Accept: 'text/plain' } });
  assert.match(text.text, new RegExp(`^REDIS_URL = redis://alice:\\*{8}@127\\.0\\.0\\.1:${redis.port}/0$`, 'm'));
  for (const a of [json, text]) assert.doesNotMatch(a.text, /S3cr|t-pw/);
});
