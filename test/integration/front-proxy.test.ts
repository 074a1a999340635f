import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { freePort } from '../helpers/port.js';
import { rawHttp } from '../helpers/raw-http.js';
import { type Captured, spawnCaptured } from '../helpers/spawn.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/ws-client.js';

/**
 * docs/examples/nginx-luna-sender.conf (the README's front-proxy configuration) run with Debian's
 * nginx in front of the real gateway: subscribe and publish through it, and the requests uWS 20.30
 * never answers (hostile-http.test.ts) are answered through it.
 */
const NGINX = '/usr/sbin/nginx';
const CONF = fileURLToPath(new URL('../../../docs/examples/nginx-luna-sender.conf', import.meta.url));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const skip = existsSync(NGINX) ? false : `${NGINX} is not installed (apt-get install -y nginx-light)`;

let gw: Gateway;
let dir: string;
let nginx: Captured;
let port: number;

before(async () => {
  if (skip) return;
  gw = await startGateway();
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'luna-nginx-'));
  const site = readFileSync(CONF, 'utf8').replace('server 127.0.0.1:5080;', `server 127.0.0.1:${gw.port};`).replace('listen 80;', `listen 127.0.0.1:${port};`);
  // Run as root here (the test container); nginx's default user `nobody` could not read the temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `${user}worker_processes 1;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 256; }\nhttp {\naccess_log off;\n${temp}\n${site}\n}\n`,
  );
  nginx = spawnCaptured(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid;`], {});
  await waitFor(async () => (await http(`http://127.0.0.1:${port}/version`).catch(() => undefined))?.status === 200, 'nginx answering');
});
after(async () => {
  if (skip) return;
  nginx.child.kill('SIGQUIT');
  await nginx.exited;
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the README quotes the tested nginx configuration verbatim', { skip }, () => {
  assert.ok(readFileSync(README, 'utf8').includes(readFileSync(CONF, 'utf8').trim()), 'README.md and docs/examples/nginx-luna-sender.conf differ');
});

test('subscribe (WebSocket upgrade) and publish through nginx', { skip }, async () => {
  const sub = await connect(`ws://127.0.0.1:${port}/1/ws?luna_account_id=${ACCOUNT}`);
  const pub = await publish(`http://127.0.0.1:${port}`, publishBody([{ event_id: 'via-nginx' }]));
  assert.equal(pub.status, 201, pub.text);
  assert.match((await sub.waitFor(1))[0]!, /"via-nginx"/);
  assert.match(String(sub.headers['luna-request-id']), /^[0-9]{10},/);
  sub.close();
});

test('through nginx, HTTP/1.0 and absolute-form requests are answered', { skip }, async () => {
  for (const req of ['GET /version HTTP/1.0\r\n\r\n', 'GET http://x/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']) {
    const a = await rawHttp(port, req);
    assert.equal(a.status, 200, `${JSON.stringify(req)}: ${a.head}`);
    assert.match(a.body, /"Version"/);
  }
});

test('through nginx, bad chunk framing and unknown transfer codings are refused by nginx (nothing published), a chunk extension is published', {
  skip,
}, async () => {
  const sub = await connect(`ws://127.0.0.1:${port}/1/ws?luna_account_id=${ACCOUNT}`);
  const body = publishBody([{ event_id: 'bad-framing' }]);
  const head = (te: string) =>
    `POST /1/publish HTTP/1.1\r\nHost: x\r\nLuna-Account-Id: ${ACCOUNT}\r\nContent-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: ${te}\r\n\r\n`;
  const xx = await rawHttp(port, `${head('chunked')}${Buffer.byteLength(body).toString(16)}\r\n${body}XX0\r\n\r\n`);
  assert.equal(xx.status, 400, xx.head);
  const unknown = await rawHttp(port, `${head('xchunked')}0\r\n\r\n`);
  assert.equal(unknown.status, 501, unknown.head);
  const twoLengths = await rawHttp(
    port,
    `POST /1/publish HTTP/1.1\r\nHost: x\r\nLuna-Account-Id: ${ACCOUNT}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}`,
  );
  assert.equal(twoLengths.status, 400, twoLengths.head);
  // A chunk extension (never answered by uWS 20.30) is read by nginx and the body re-sent whole.
  const ext = publishBody([{ event_id: 'chunk-extension' }]);
  const withExt = await rawHttp(port, `${head('chunked')}${Buffer.byteLength(ext).toString(16)};name=value\r\n${ext}\r\n0\r\n\r\n`);
  assert.equal(withExt.status, 201, withExt.head);
  assert.match((await sub.waitFor(1))[0]!, /"chunk-extension"/);
  // Sentinel: the next event the subscriber sees is this one.
  assert.equal((await publish(`http://127.0.0.1:${port}`, publishBody([{ event_id: 'sentinel' }]))).status, 201);
  assert.match((await sub.waitFor(2))[1]!, /"sentinel"/);
  sub.close();
});
