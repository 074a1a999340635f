import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { useChromium, watchPage } from '../helpers/browser.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, http, publish, publishBody } from '../helpers/http.js';
import { connect } from '../helpers/ws-client.js';

const browser = useChromium();
let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw.stop());

/** The page's own check of a subscription (a plain GET of the /ws URL) answers with a status the
 * browser logs as an error line; that line, and only for that URL, is expected. */
const checkLine = (text: string) => /status of 4(00|03|26)\b.*\/[12]\/ws\?/.test(text);

let seq = 0;
/** A face event with this gender; `id` names it in the frame. The big integer must survive display. */
const face = (gender: number, id = `e${++seq}`) => ({ event_id: id, big: 'BIG', face_attributes: { basic_attributes: { gender } } });

async function send(events: unknown[]): Promise<void> {
  // Written as text: a JavaScript number cannot hold it, the gateway's frames carry it as sent.
  const a = await publish(gw.url, publishBody(events).replaceAll('"BIG"', '12345678901234567891'));
  assert.equal(a.status, 201, a.text);
}

async function openConsole(): Promise<{ page: Page; watch: ReturnType<typeof watchPage>; sockets: string[] }> {
  const page = await browser().newPage({ viewport: { width: 1200, height: 900 } });
  const watch = watchPage(page, gw.url, checkLine);
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  // Lets a test cut the page's socket as a network failure would, to see it resume.
  // (Page code is given as text: the tests compile without the DOM types.)
  await page.addInitScript({
    content: `{ const W = window.WebSocket; window.openSockets = [];
      window.WebSocket = class extends W { constructor(u, p) { super(u, p); window.openSockets.push(this); } }; }`,
  });
  const answer = await page.goto(`${gw.url}/console`);
  assert.equal(answer?.status(), 200);
  assert.match(answer?.headers()['content-type'] ?? '', /^text\/html/);
  return { page, watch, sockets };
}

const text = async (page: Page, sel: string) => (await page.locator(sel).textContent()) ?? '';

async function waitText(page: Page, sel: string, re: RegExp): Promise<void> {
  const js = `new RegExp(${JSON.stringify(re.source)}).test(document.querySelector(${JSON.stringify(sel)})?.textContent ?? '')`;
  await page.waitForFunction(js, undefined, { timeout: 15000 });
}

test('the console subscribes with a filter from the form and shows exactly the matching events, the latest in full', async () => {
  const { page, watch, sockets } = await openConsole();
  await page.fill('#account', ACCOUNT);
  await page.selectOption('select[name="gender"]', '1');
  await page.click('#subscribe');
  await waitText(page, '#state', /^open$/);
  assert.equal(sockets.length, 1);
  const url = new URL(sockets[0]);
  assert.equal(url.pathname, '/2/ws');
  assert.equal(url.searchParams.get('gender'), '1');
  assert.equal(url.searchParams.get('luna_account_id'), ACCOUNT);
  assert.equal(url.searchParams.get('positions'), '1');

  await send([face(1, 'm1'), face(0, 'x1'), face(1, 'm2')]);
  await send([face(0, 'x2'), face(1, 'm3')]);
  await send([face(1, 'sentinel')]);
  await waitText(page, '#latest', /"event_id": "sentinel"/);
  assert.equal(await text(page, '#count'), '4');
  const recent = await page.locator('#recent li').allInnerTexts();
  assert.deepEqual(
    recent.map((r) => /"event_id":"([^"]+)"/.exec(r)?.[1]),
    ['sentinel', 'm3', 'm2', 'm1'],
  );
  const latest = await text(page, '#latest');
  // Pretty-printed from the frame's own text: the 64-bit integer keeps every digit.
  assert.match(latest, /\n {4}"big": 12345678901234567891,\n/);
  assert.match(await text(page, '#position'), /^[A-Za-z0-9_-]+:\d+-\d+$/);

  // The host panel, from /metrics: this socket is open.
  await page.waitForFunction("Number(document.getElementById('m-connections')?.textContent) >= 1", undefined, { timeout: 15000 });
  // luna_sender_workers{state="live"}: this gateway is one worker.
  assert.equal(await text(page, '#m-workers'), '1');

  // Pause: counting goes on, the display stays; resuming it shows the newest.
  await page.click('#pause');
  await send([face(1, 'while-paused'), face(1, 'sentinel-2')]);
  await waitText(page, '#count', /^6$/);
  assert.match(await text(page, '#latest'), /"event_id": "sentinel"/);
  await page.click('#pause');
  assert.match(await text(page, '#latest'), /"event_id": "sentinel-2"/);

  if (process.env.SENDER_SCREENSHOTS === '1') {
    const file = fileURLToPath(new URL('../../../docs/images/console.png', import.meta.url));
    mkdirSync(new URL('../../../docs/images/', import.meta.url), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
  }
  assert.deepEqual(watch.errors, []);
  assert.deepEqual(watch.foreign, []);
  await page.close();
});

test('after a dropped connection the console resumes from the last position: nothing lost, nothing twice', async () => {
  const { page, watch, sockets } = await openConsole();
  await page.fill('#account', ACCOUNT);
  await page.selectOption('select[name="gender"]', '0');
  await page.click('#subscribe');
  await waitText(page, '#state', /^open$/);
  await send([face(0, 'a1'), face(1, 'no'), face(0, 'a2')]);
  await waitText(page, '#count', /^2$/);
  const position = await text(page, '#position');

  // A network failure as the page sees it: its socket ends without the page asking.
  await page.evaluate("window.openSockets.at(-1).close(4000, 'test cut')");
  await send([face(0, 'b1'), face(1, 'no'), face(0, 'b2')]);
  await waitText(page, '#state', /^open \(resumed\)$/);
  await send([face(0, 'sentinel')]);
  await waitText(page, '#latest', /"event_id": "sentinel"/);
  assert.equal(await text(page, '#count'), '5');
  const ids = (await page.locator('#recent li').allInnerTexts()).map((r) => /"event_id":"([^"]+)"/.exec(r)?.[1]);
  assert.deepEqual(ids, ['sentinel', 'b2', 'b1', 'a2', 'a1']);
  assert.equal(new URL(sockets.at(-1)!).searchParams.get('resume'), position, 'the reconnect resumes from the last position');
  assert.deepEqual(watch.errors, []);
  assert.deepEqual(watch.foreign, []);
  await page.close();
});

/** The detail a real WebSocket client gets when the gateway refuses this subscription. */
async function handshakeDetail(query: string): Promise<string> {
  const refused = await connect(`ws://127.0.0.1:${gw.port}/2/ws?${query}`).then(
    (c) => {
      c.close();
      throw new Error(`${query}: the handshake was accepted`);
    },
    (err: { status?: number; body?: string }) => err,
  );
  assert.equal(refused.status, 400);
  return JSON.parse(refused.body!).detail;
}

test('a refused filter shows the handshake detail word for word, and no socket is opened', async () => {
  const { page, watch, sockets } = await openConsole();
  await page.fill('#account', ACCOUNT);
  await page.fill('input[name="age__gte"]', 'abc');
  await page.click('#subscribe');
  await waitText(page, '#state', /^refused \(HTTP 400\)$/);
  const expected = await handshakeDetail(`age__gte=abc&luna_account_id=${ACCOUNT}`);
  assert.equal(await text(page, '#error'), expected);

  await page.fill('input[name="age__gte"]', '');
  await page.fill('#extra', 'colour=red');
  await page.click('#subscribe');
  await waitText(page, '#error', /colour/);
  assert.equal(await text(page, '#error'), await handshakeDetail(`colour=red&luna_account_id=${ACCOUNT}`));
  assert.deepEqual(sockets, []);
  assert.deepEqual(watch.errors, []);
  assert.deepEqual(watch.foreign, []);
  await page.close();
});

test('a token travels as the subprotocol pair luna-sender, bearer.<token> and as Authorization on the check (SPEC 10)', async () => {
  const { page } = await openConsole();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const offered = new Promise<string | undefined>((resolve) =>
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => resolve(e.request.headers['Sec-WebSocket-Protocol'] as string | undefined)),
  );
  const checked = new Promise<string | null>((resolve) =>
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/2/ws') resolve(r.headers().authorization ?? null);
    }),
  );
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJhY2NvdW50X2lkIjoieCJ9.c2lnbmF0dXJl';
  await page.fill('#account', ACCOUNT);
  await page.fill('#token', token);
  await page.click('#subscribe');
  assert.equal(await checked, `Bearer ${token}`);
  assert.equal(await offered, `luna-sender, bearer.${token}`);
  // Whether the socket then opens depends on SENDER_AUTH (this gateway selects no subprotocol yet).
  await page.close();
});

test('GET /console is one self-contained page: its form comes from the filter vocabulary, its client from this build', async () => {
  const a = await http(`${gw.url}/console`);
  assert.equal(a.status, 200);
  assert.doesNotMatch(a.text, /(src|href)="(https?:)?\/\//i, 'nothing from elsewhere');
  const { FIELDS } = await import('../../src/filters/fields.js');
  for (const f of FIELDS) assert.ok(a.text.includes(`"name":"${f.name}"`), f.name);
  const js = await http(`${gw.url}/console/client.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(js.text, /export class LunaSenderClient/);
  assert.doesNotMatch(js.text, /sourceMappingURL/);
});

test('a plain GET of /{api}/ws answers the handshake error when the subscription is bad, else 426 (SPEC 4)', async () => {
  const bad = await http(`${gw.url}/1/ws?age__gte=abc&luna_account_id=${ACCOUNT}`);
  assert.equal(bad.status, 400);
  assert.equal(errorBody(bad).detail, await handshakeDetail(`age__gte=abc&luna_account_id=${ACCOUNT}`));
  const noAccount = await http(`${gw.url}/2/ws?gender=1`);
  assert.equal(noAccount.status, 403);
  assert.equal(errorBody(noAccount).error_code, 29001);
  const good = await http(`${gw.url}/2/ws?gender=1&luna_account_id=${ACCOUNT}`);
  assert.equal(good.status, 426);
  assert.equal(errorBody(good).detail, 'websocket upgrade required');
});
