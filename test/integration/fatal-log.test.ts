import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAIN } from '../helpers/gateway.js';
import { spawnCaptured } from '../helpers/spawn.js';
import { withTimeout } from '../helpers/timeout.js';

// Whatever stops the gateway (a refused start or an uncaught error later) ends it with exactly one
// pino line at level fatal on stdout, like every other log line, nothing on stderr (no plain-text
// message, no Node stack dump), exit code 1; and stack traces name the TypeScript source.

interface LogLine {
  level: number;
  msg: string;
  err?: { type?: string; message?: string; stack?: string };
}

/** `node build/src/main.js` with `env` until it exits; its one fatal line, after checking that every stdout line is JSON and stderr is empty. */
async function fatalExit(env: Record<string, string>): Promise<LogLine> {
  const { child, stdout, stderr, exited } = spawnCaptured(process.execPath, [MAIN], { REDIS_URL: '', ...env });
  let code: number | string;
  try {
    code = await withTimeout(exited, 20000, 'the gateway to stop on its fatal error');
  } finally {
    child.kill('SIGKILL');
  }
  const out = `stdout:\n${stdout()}\nstderr:\n${stderr()}`;
  assert.equal(code, 1, out);
  assert.equal(stderr(), '', out);
  const lines = stdout()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogLine);
  const fatal = lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1, out);
  assert.equal(lines.at(-1), fatal[0], `the fatal line is the last one\n${out}`);
  assert.ok(fatal[0].msg.length > 0, out);
  return fatal[0];
}

test('a bad configuration: one fatal JSON line naming the key, exit 1', async () => {
  const line = await fatalExit({ SENDER_PORT: 'abc' });
  assert.match(line.msg, /SENDER_PORT: "abc" is not allowed/);
  assert.equal(line.err?.type, 'ConfigError');
});

test('UWS_USE_FALLBACK: one fatal JSON line refusing the pure-JS fallback, exit 1', async () => {
  const line = await fatalExit({ UWS_USE_FALLBACK: '1' });
  assert.match(line.msg, /runs only on the native binary/);
  assert.equal(line.err?.type, 'UwsFallbackError');
});

test('a port another process holds: one fatal JSON line, exit 1', async () => {
  const holder: Server = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as { port: number }).port;
  try {
    const line = await fatalExit({ SENDER_PORT: String(port) });
    assert.match(line.msg, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    assert.equal(line.err?.type, 'ListenError');
  } finally {
    holder.close();
  }
});

test('an error a plugin throws outside its hooks: one fatal JSON line whose stack names the .ts line', async () => {
  const source = fileURLToPath(new URL('../../../test/fixtures/plugin-throws-outside-hooks.ts', import.meta.url));
  const throwLine =
    readFileSync(source, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('throw new Error')) + 1;
  assert.ok(throwLine > 0);
  const plugin = fileURLToPath(new URL('../fixtures/plugin-throws-outside-hooks.js', import.meta.url));
  const line = await fatalExit({ SENDER_PLUGINS: plugin });
  assert.match(line.msg, /plugin bug outside its hooks/);
  assert.match(line.err?.stack ?? '', new RegExp(`test/fixtures/plugin-throws-outside-hooks\\.ts:${throwLine}:\\d+`), line.err?.stack);
});
