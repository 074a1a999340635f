import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, maskedConfig, configAsText, workerCount, MASK } from '../../src/config/index.js';

test('defaults: port 5080, in-process bus, frozen', () => {
  const c = loadConfig({});
  assert.equal(c.SENDER_PORT, 5080);
  assert.equal(c.SENDER_HOST, '0.0.0.0');
  assert.equal(c.REDIS_URL, '');
  assert.equal(c.SENDER_MAX_BACKPRESSURE, 16777216);
  assert.equal(c.SENDER_STREAM_KEY, 'luna-sender:events');
  assert.ok(Object.isFrozen(c));
  assert.throws(() => {
    (c as { SENDER_PORT: number }).SENDER_PORT = 1;
  });
});

test('environment values are typed by the schema', () => {
  const c = loadConfig({ SENDER_PORT: '6000', SENDER_REDIS_TIMEOUT: '0.5', LOG_LEVEL: 'debug' });
  assert.equal(c.SENDER_PORT, 6000);
  assert.equal(c.SENDER_REDIS_TIMEOUT, 0.5);
  assert.equal(c.LOG_LEVEL, 'debug');
});

test('every bad key is reported with its value and what is allowed', () => {
  let err: unknown;
  try {
    loadConfig({ SENDER_PORT: 'eighty', SENDER_MAX_EVENTS_PER_PUBLISH: '0', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const p = err.problems.join('\n');
  assert.equal(err.problems.length, 4);
  assert.match(p, /SENDER_PORT: "eighty" is not allowed; expected an integer >= 0 <= 65535/);
  assert.match(p, /SENDER_MAX_EVENTS_PER_PUBLISH: 0 is not allowed; expected an integer >= 1/);
  assert.match(p, /LOG_LEVEL: "loud" is not allowed; expected one of "fatal"/);
  assert.match(p, /REDIS_URL: "http:\/\/x" is not allowed/);
});

test('integers written as decimals are refused, not truncated', () => {
  assert.throws(() => loadConfig({ SENDER_PORT: '50.5' }), /SENDER_PORT: "50.5" is not allowed/);
});

test('SENDER_CONFIG file: values apply, environment wins, unknown keys are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ SENDER_PORT: 7000, SENDER_STREAM_KEY: 'k1' }));
  const c = loadConfig({ SENDER_CONFIG: file, SENDER_STREAM_KEY: 'k2' });
  assert.equal(c.SENDER_PORT, 7000);
  assert.equal(c.SENDER_STREAM_KEY, 'k2');
  writeFileSync(file, JSON.stringify({ NOPE: 1 }));
  assert.throws(() => loadConfig({ SENDER_CONFIG: file }), /NOPE: unknown key/);
  writeFileSync(file, '{not json');
  assert.throws(() => loadConfig({ SENDER_CONFIG: file }), /SENDER_CONFIG: cannot read JSON file/);
});

test('secrets are masked, also the password inside a Redis URL', () => {
  const c = loadConfig({ REDIS_URL: 'redis://user:s3cret@localhost:6379/2', REDIS_SENTINEL_PASSWORD: 'pw' });
  const m = maskedConfig(c);
  assert.equal(m.REDIS_URL, `redis://user:${MASK}@localhost:6379/2`);
  assert.equal(m.REDIS_SENTINEL_PASSWORD, MASK);
  assert.doesNotMatch(JSON.stringify(m), /s3cret|"pw"/);
  assert.match(configAsText(m), /^REDIS_URL = redis:\/\/user:\*{8}@localhost:6379\/2$/m);
  assert.equal(maskedConfig(loadConfig({ REDIS_URL: 'redis://:only@h:1' })).REDIS_URL, `redis://:${MASK}@h:1`);
});

test('worker count: 1 on the in-process bus, CPUs with Redis unless set', () => {
  assert.equal(workerCount(loadConfig({ SENDER_WORKERS: '4' }), 8), 1);
  assert.equal(workerCount(loadConfig({ REDIS_URL: 'redis://h:1' }), 8), 8);
  assert.equal(workerCount(loadConfig({ REDIS_URL: 'redis://h:1', SENDER_WORKERS: '3' }), 8), 3);
});
