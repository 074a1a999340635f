import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { launchChromium } from '../helpers/browser.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, publishBody } from '../helpers/http.js';
import { withTimeout } from '../helpers/timeout.js';
import { makeCert } from '../helpers/tls.js';

/**
 * SENDER_ALLOWED_ORIGINS as a real browser meets it: Debian's headless Chromium loads a page from
 * one origin (a tiny server here) whose script publishes to the gateway (another origin: the
 * browser sends a preflight for Luna-Account-Id and JSON), reads Luna-Request-Id (exposed) and
 * opens a WebSocket; the page reports what happened to its own server. One page origin is in the
 * list, the other is not. And over TLS: wss and https to a self-signed certificate the browser is
 * told to trust (by its key's hash), and refused without that.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

let gw: Gateway;
let pages: Server;
let pagePort: number;
let reports: Map<string, (r: Record<string, string>) => void>;

const script = (gwUrl: string, tag: string) => `
const report = (r) => fetch('/report?tag=${tag}', { method: 'POST', body: JSON.stringify(r) });
(async () => {
  const r = {};
  try {
    const a = await fetch('${gwUrl}/1/publish', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': '${ACCOUNT}' }, body: ${JSON.stringify(publishBody([{ event_id: 'from-page' }]))} });
    r.publish = String(a.status);
    r.requestId = a.headers.get('luna-request-id') ?? '';
  } catch (e) { r.publish = 'blocked: ' + e.message; }
  r.ws = await new Promise((resolve) => {
    const ws = new WebSocket('${gwUrl.replace('http', 'ws')}/1/ws?luna_account_id=${ACCOUNT}');
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('error');
  });
  await report(r);
})();`;

before(async () => {
  if (skip) return;
  reports = new Map();
  pages = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/report') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        reports.get(url.searchParams.get('tag') ?? '')?.(JSON.parse(body));
        res.end('ok');
      });
      return;
    }
    res.setHeader('Content-Type', 'text/html');
    res.end(`<!doctype html><script>${script(url.searchParams.get('gw') ?? gw.url, url.searchParams.get('tag') ?? '')}</script>`);
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', () => r()));
  pagePort = (pages.address() as { port: number }).port;
  // The page server answers on 127.0.0.1 and on localhost: two origins, only the first allowed.
  gw = await startGateway({ SENDER_ALLOWED_ORIGINS: `http://127.0.0.1:${pagePort}` });
});
after(async () => {
  if (skip) return;
  await gw.stop();
  await new Promise((r) => pages.close(r));
});

async function visit(origin: string, tag: string, gwUrl = gw.url, extra: string[] = []): Promise<Record<string, string>> {
  const got = new Promise<Record<string, string>>((resolve) => reports.set(tag, resolve));
  // playwright-core owns the browser's lifetime and profile: close() waits for every Chromium process.
  const browser = await launchChromium(extra);
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/?tag=${tag}&gw=${encodeURIComponent(gwUrl)}`);
    return await withTimeout(got, 30000, "the page's report");
  } finally {
    await browser.close();
  }
}

test('a page of an allowed origin publishes cross-origin (preflight), reads Luna-Request-Id and opens a WebSocket', { skip }, async () => {
  const r = await visit(`http://127.0.0.1:${pagePort}`, 'allowed');
  assert.equal(r.publish, '201', JSON.stringify(r));
  assert.match(r.requestId!, /^[0-9]{10},/);
  assert.equal(r.ws, 'open');
});

test('a page of another origin can neither read a publish answer nor open a WebSocket', { skip }, async () => {
  const r = await visit(`http://localhost:${pagePort}`, 'other');
  assert.match(r.publish!, /^blocked/, JSON.stringify(r));
  assert.equal(r.ws, 'error');
});

test('over TLS: the page publishes over https and opens a wss socket to a self-signed certificate the browser trusts', { skip }, async () => {
  const cert = makeCert();
  const tls = await startGateway(cert.env);
  try {
    // Chromium trusts exactly this certificate's key (its SPKI hash), nothing wider.
    const spki = execSync(`openssl x509 -in ${cert.cert} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`)
      .toString()
      .trim();
    const r = await visit(`http://127.0.0.1:${pagePort}`, 'tls', tls.url, [`--ignore-certificate-errors-spki-list=${spki}`]);
    assert.equal(r.publish, '201', JSON.stringify(r));
    assert.equal(r.ws, 'open');
    const untrusted = await visit(`http://127.0.0.1:${pagePort}`, 'untrusted', tls.url);
    assert.match(untrusted.publish!, /^blocked/, JSON.stringify(untrusted));
    assert.equal(untrusted.ws, 'error');
  } finally {
    await tls.stop();
    cert.remove();
  }
});
