import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { type Gateway, spawnGateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, publishBody } from '../helpers/http.js';
import { spawnCaptured } from '../helpers/spawn.js';
import { https, makeCert, type TestCert } from '../helpers/tls.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/ws-client.js';

// SPEC 10: with SENDER_TLS_CERT_FILE and SENDER_TLS_KEY_FILE the port serves HTTPS and WSS only.
let cert: TestCert;
let locked: TestCert;
let gw: Gateway;

before(async () => {
  cert = makeCert();
  locked = makeCert('correct horse');
  gw = await startGateway(cert.env);
});
after(async () => {
  await gw.stop();
  cert.remove();
  locked.remove();
});

const wss = (g: Gateway, query = '') => `${g.url.replace('https', 'wss')}/1/ws?luna_account_id=${ACCOUNT}${query}`;
const publishTls = (g: Gateway, ca: Buffer, events: unknown[]) =>
  https(`${g.url}/1/publish`, ca, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT },
    body: publishBody(events),
  });

test('wss subscribe and https publish end to end; resume over wss', async () => {
  assert.match(gw.url, /^https:/);
  const sub = await connect(wss(gw, '&positions=1'), {}, undefined, { ca: cert.ca });
  const start = String(sub.headers['luna-stream-position']);
  const pub = await publishTls(gw, cert.ca, [{ event_id: 'tls-1' }, { event_id: 'tls-2' }]);
  assert.equal(pub.status, 201, pub.text);
  const got = await sub.waitFor(2);
  assert.match(got[0]!, /"tls-1"/);
  assert.match(got[1]!, /"tls-2"/);
  sub.close();
  const resumed = await connect(wss(gw, `&resume=${encodeURIComponent(start)}`), {}, undefined, { ca: cert.ca });
  assert.deepEqual(await resumed.waitFor(2), got);
  resumed.close();
});

test('the info, metrics and docs routes answer over https', async () => {
  for (const path of ['/version', '/healthcheck', '/metrics', '/docs/spec', '/docs/dev/index.html']) {
    const a = await https(`${gw.url}${path}`, cert.ca);
    assert.equal(a.status, 200, path);
  }
});

test('a client that does not trust the certificate is refused by its own TLS check', async () => {
  await assert.rejects(https(`${gw.url}/version`, Buffer.from('')), /self-signed|certificate|unable to verify|no certificate/i);
});

test('plain HTTP to the TLS port gets no HTTP answer: the connection ends, the gateway keeps serving', async () => {
  const outcome = await new Promise<string>((resolve) => {
    const req = httpRequest(gw.url.replace('https', 'http') + '/version', (res) => resolve(`HTTP ${res.statusCode}`));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.setTimeout(10000, () => req.destroy(new Error('no answer within the deadline')));
    req.end();
  });
  assert.match(outcome, /^(ECONNRESET|HPE_\w+|EPIPE)$/, outcome);
  assert.equal((await https(`${gw.url}/version`, cert.ca)).status, 200);
});

test('a passphrase-protected key serves wss and https', async () => {
  const g = await startGateway(locked.env);
  try {
    const sub = await connect(wss(g), {}, undefined, { ca: locked.ca });
    assert.equal((await publishTls(g, locked.ca, [{ event_id: 'locked-1' }])).status, 201);
    assert.match((await sub.waitFor(1))[0]!, /"locked-1"/);
    sub.close();
  } finally {
    await g.stop();
  }
});

test('half or broken TLS settings are refused at start-up with the key named', () => {
  const bad = (env: Record<string, string>, re: RegExp) =>
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(env),
    );
  bad({ SENDER_TLS_CERT_FILE: cert.cert }, /SENDER_TLS_KEY_FILE: is empty but SENDER_TLS_CERT_FILE is set/);
  bad({ SENDER_TLS_KEY_FILE: cert.key }, /SENDER_TLS_CERT_FILE: is empty but SENDER_TLS_KEY_FILE is set/);
  bad({ SENDER_TLS_KEY_PASSPHRASE: 'x' }, /SENDER_TLS_KEY_PASSPHRASE: is set but SENDER_TLS_KEY_FILE is not/);
  bad({ ...cert.env, SENDER_TLS_CERT_FILE: join(cert.dir, 'missing.pem') }, /SENDER_TLS_CERT_FILE: cannot read .*missing\.pem/);
  bad({ ...cert.env, SENDER_TLS_KEY_FILE: join(cert.dir, 'missing.pem') }, /SENDER_TLS_KEY_FILE: cannot read/);
  const junk = join(cert.dir, 'junk.pem');
  writeFileSync(junk, 'not a pem\n');
  bad({ ...cert.env, SENDER_TLS_CERT_FILE: junk }, /SENDER_TLS_CERT_FILE: .* holds no PEM certificate/);
  bad({ ...cert.env, SENDER_TLS_KEY_FILE: junk }, /SENDER_TLS_KEY_FILE: .* holds no usable private key/);
  bad({ ...locked.env, SENDER_TLS_KEY_PASSPHRASE: 'wrong' }, /holds no usable private key \(wrong or missing SENDER_TLS_KEY_PASSPHRASE\?\)/);
  bad({ SENDER_TLS_CERT_FILE: locked.cert, SENDER_TLS_KEY_FILE: locked.key }, /wrong or missing SENDER_TLS_KEY_PASSPHRASE/);
  bad({ SENDER_TLS_CERT_FILE: cert.cert, SENDER_TLS_KEY_FILE: locked.key, SENDER_TLS_KEY_PASSPHRASE: 'correct horse' }, /is not the key of the certificate/);
});

test('npm start with only one TLS file exits non-zero with the problem on stderr', async () => {
  await assert.rejects(spawnGateway({ SENDER_PORT: '0', SENDER_TLS_CERT_FILE: cert.cert }), (e: Error) => {
    assert.match(e.message, /gateway exited with 1/);
    assert.match(e.message, /SENDER_TLS_KEY_FILE: is empty but SENDER_TLS_CERT_FILE is set/);
    return true;
  });
});

// docs/examples/luna_client.py (see client-python.test.ts for why this interpreter) over wss.
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../../docs/examples/luna_client.py', import.meta.url));
const pySkip = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8' }).status === 0 ? false : `${PYTHON} cannot import websockets`;

test('the Python example client subscribes over wss, trusting the certificate through SSL_CERT_FILE', { skip: pySkip }, async () => {
  const py = spawnCaptured(PYTHON, [SCRIPT, '--url', gw.url.replace('https', 'wss'), '--account', ACCOUNT, '--count', '1'], { SSL_CERT_FILE: cert.cert });
  try {
    await waitFor(() => /"state": "open"/.test(py.stderr()), `the example's open\n${py.stderr()}`);
    assert.equal((await publishTls(gw, cert.ca, [{ event_id: 'py-wss' }])).status, 201);
    assert.equal(await py.exited, 0, py.stderr());
    assert.match(JSON.parse(py.stdout().trim()).frame, /"py-wss"/);
  } finally {
    py.child.kill();
  }
});
