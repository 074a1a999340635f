import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, configAsText, loadConfig, MASK, maskedConfig, maskUrlPassword, workerCount } from '../../src/config/index.js';

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

test('regression: the Redis URL mask hides all of a password that contains @, :, %40 or /', () => {
  // [URL, masked form]; each password holds a character that ends a naive [^@]* match early.
  const cases: [string, string][] = [
    ['redis://alice:S3cr@t-pw!@host:6379/0', `redis://alice:${MASK}@host:6379/0`],
    ['redis://alice:a@b@c@host:6379', `redis://alice:${MASK}@host:6379`],
    ['redis://alice:pa:ss:w@host:6379/1', `redis://alice:${MASK}@host:6379/1`],
    ['redis://:x:y@host:1', `redis://:${MASK}@host:1`],
    ['redis://alice:p%40ss%3Aw@host:6379/0', `redis://alice:${MASK}@host:6379/0`],
    ['redis://alice:pa%2Fss@host/0', `redis://alice:${MASK}@host/0`],
    // A raw '/' ends the authority for WHATWG URL (this one does not parse): masked up to the last '@'.
    ['redis://alice:pa/ss@host:6379/0', `redis://${MASK}@host:6379/0`],
    ['rediss://solo@host:6380', `rediss://${MASK}@host:6380`],
    ['redis://host:6379/0?password=qu@ery&db=1', `redis://host:6379/0?password=${MASK}&db=1`],
    ['redis://host:6379/0', 'redis://host:6379/0'],
  ];
  for (const [url, masked] of cases) {
    assert.equal(maskUrlPassword(url), masked, url);
    assert.equal(maskedConfig(loadConfig({ REDIS_URL: url })).REDIS_URL, masked, url);
  }
  // The mask agrees with the parser ioredis uses: what WHATWG calls the password is gone.
  for (const [url, masked] of cases.slice(0, 6)) {
    const password = new URL(url).password;
    assert.ok(password.length > 0 && !masked.includes(password), url);
    assert.equal(new URL(masked).host, new URL(url).host, url);
  }
});

test('worker count: 1 on the in-process bus, CPUs with Redis unless set', () => {
  assert.equal(workerCount(loadConfig({ SENDER_WORKERS: '4' }), 8), 1);
  assert.equal(workerCount(loadConfig({ REDIS_URL: 'redis://h:1' }), 8), 8);
  assert.equal(workerCount(loadConfig({ REDIS_URL: 'redis://h:1', SENDER_WORKERS: '3' }), 8), 3);
});
