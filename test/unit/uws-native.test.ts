import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { isNativeUws, uws, uwsBuild } from '../../src/uws.js';
import { MAIN } from '../helpers/gateway.js';

test('the gateway runs on the native uWebSockets.js binary', () => {
  assert.ok(isNativeUws(uws));
  const require = createRequire(import.meta.url);
  const loaded = Object.keys(require.cache).filter((k) => k.endsWith('.node') && k.includes('uws_'));
  assert.equal(loaded.length, 1, `native binary in require cache: ${loaded.join(', ')}`);
  // The build logged at start-up is the one loaded, for this platform and Node ABI.
  assert.equal(uwsBuild.binary, `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  assert.ok(loaded[0].endsWith(uwsBuild.binary) && loaded[0].includes(`/node_modules/${uwsBuild.dep}/`), `${loaded[0]} vs ${JSON.stringify(uwsBuild)}`);
});

test('the pure-JS fallback is recognised as not native', () => {
  const require = createRequire(import.meta.url);
  const fallbackPath = require.resolve('uWebSockets.js').replace(/src[/\\]uws\.js$/, 'dist/index.js');
  assert.equal(isNativeUws(require(fallbackPath)), false);
});

test('UWS_USE_FALLBACK makes the gateway refuse to start with a clear message', () => {
  const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, UWS_USE_FALLBACK: '1', SENDER_PORT: '0' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /"level":60,.*runs only on the native binary/);
  assert.doesNotMatch(r.stdout, /listening/);
});

test('a bad configuration stops the process with one message per bad key', () => {
  const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, SENDER_PORT: 'x', SENDER_PING_INTERVAL: '0' }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /SENDER_PORT: \\"x\\" is not allowed/);
  assert.match(r.stdout, /SENDER_PING_INTERVAL: 0 is not allowed/);
});
