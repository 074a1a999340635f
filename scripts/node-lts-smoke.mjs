// Smoke test of a built tree on the Node that runs this file (scripts/node-lts-check.sh runs it on
// the host and in a Debian 13 root): start dist/src/main.js on the in-process bus, read which uWS
// build it loaded, GET /version, one WebSocket subscribe + publish round trip, SIGTERM, exit 0.
// Prints one summary line. Exit 0: all passed; 3: the gateway refused to start (its fatal line is
// printed); 1: anything else failed. Plain JavaScript: it must run without a TypeScript build step.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const WebSocket = createRequire(`${root}/package.json`)('ws');
const ACCOUNT = '8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';
const glibc = process.report.getReport().header.glibcVersionRuntime ?? 'none';
const who = `node ${process.version} (ABI ${process.versions.modules}) ${process.platform}-${process.arch} glibc ${glibc}`;

function fail(why, code = 1) {
  process.stdout.write(`${who}: ${code === 3 ? 'REFUSED' : 'FAIL'} ${why}\n`);
  process.exit(code);
}
const deadline = setTimeout(() => fail('no result within 30 s'), 30000);

const child = spawn(process.execPath, ['--enable-source-maps', 'dist/src/main.js'], {
  cwd: root,
  env: { ...process.env, SENDER_HOST: '127.0.0.1', SENDER_PORT: '0', REDIS_URL: '', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const lines = [];
let buffered = '';
const waiters = [];
child.stdout.on('data', (d) => {
  buffered += d;
  let i = buffered.indexOf('\n');
  while (i >= 0) {
    const text = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    i = buffered.indexOf('\n');
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      fail(`a stdout line that is not JSON: ${text}`);
    }
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  }
});
const exited = new Promise((r) => child.on('exit', (code, signal) => r(code ?? signal)));
exited.then((code) => {
  const fatal = lines.find((l) => l.level === 60);
  if (fatal && !listening) fail(`to start (exit ${code}, stderr ${JSON.stringify(stderr)}): ${JSON.stringify(fatal)}`, 3);
});
let listening = false;
const line = (pred) =>
  new Promise((resolve) => {
    const look = () => {
      const l = lines.find(pred);
      if (l) resolve(l);
      else waiters.push(look);
    };
    look();
  });

const uwsLine = await line((l) => l.uws !== undefined);
const listen = await line((l) => /^luna-sender listening on /.test(l.msg));
listening = true;
const base = `http://127.0.0.1:${listen.port}`;
const version = await (await fetch(`${base}/version`)).json();

const ws = new WebSocket(`ws://127.0.0.1:${listen.port}/2/ws?gender=1`, { headers: { 'Luna-Account-Id': ACCOUNT } });
const message = new Promise((resolve, reject) => {
  ws.once('message', (data) => resolve(JSON.parse(String(data))));
  ws.once('error', reject);
});
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
const handler = `smoke-${process.versions.modules}`;
const published = await fetch(`${base}/2/publish`, {
  method: 'POST',
  headers: { 'Luna-Account-Id': ACCOUNT, 'Content-Type': 'application/json' },
  body: JSON.stringify({
    events: [{ face_attributes: { basic_attributes: { gender: 1 } } }],
    handler_id: handler,
    event_create_time: '2026-01-01T00:00:00Z',
    event_end_time: '2026-01-01T00:00:01Z',
  }),
});
if (published.status !== 201) fail(`publish answered ${published.status}: ${await published.text()}`);
const got = await message;
if (JSON.stringify(got).indexOf(handler) < 0) fail(`the subscriber got a message without handler_id ${handler}: ${JSON.stringify(got)}`);
ws.close();
child.kill('SIGTERM');
const code = await exited;
if (code !== 0) fail(`exit ${code} after SIGTERM`);
if (stderr !== '') fail(`stderr not empty: ${stderr}`);
clearTimeout(deadline);
const u = uwsLine.uws;
process.stdout.write(
  `${who}: OK uWS ${u.package} ${u.version} (${u.dep}, ${u.binary}) native; /version ${JSON.stringify(version)}; ws subscribe + publish round trip ok; SIGTERM exit 0\n`,
);
