import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { CHROMIUM, useChromium } from '../helpers/browser.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { makeKeys, sign, type TestKeys } from '../helpers/tokens.js';

/**
 * SPEC 10's browser carrier as a real browser uses it: headless Chromium (Debian's) opens
 * `new WebSocket(url, ['luna-sender', 'bearer.' + token])` to a SENDER_AUTH=jwt gateway. Chromium
 * fails a handshake whose answer selects no offered subprotocol, so the connection opening at all
 * proves the server answered `luna-sender`; the events that arrive prove the token's account and
 * `filter` claim were applied. The last published event is a sentinel: once it arrived, nothing
 * else is on its way.
 */
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;
const browser = useChromium();
let keys: TestKeys;
let gw: Gateway;

before(async () => {
  if (skip) return;
  keys = makeKeys();
  gw = await startGateway({ SENDER_AUTH: 'jwt', SENDER_AUTH_HMAC_SECRETS: keys.secret });
});
after(async () => {
  await gw?.stop();
  keys?.remove();
});

/** Runs in the page: opens the socket with the subprotocol carrier, collects frames until `until` arrives. */
function pageSubscribe({ url, token, until }: { url: string; token: string; until: string }) {
  return new Promise<{ protocol: string; events: string[] } | { failed: number }>((resolve) => {
    const ws = new WebSocket(url, ['luna-sender', `bearer.${token}`]);
    const events: string[] = [];
    ws.onopen = () => ((globalThis as unknown as { opened: boolean }).opened = true);
    ws.onmessage = (m) => {
      const ev = JSON.parse(m.data as string).event as { event_id: string };
      events.push(ev.event_id);
      if (ev.event_id === until) {
        ws.close();
        resolve({ protocol: ws.protocol, events });
      }
    };
    ws.onclose = (c) => resolve({ failed: c.code });
  });
}

test('a browser subscribes with the token in Sec-WebSocket-Protocol; the token filter applies', { skip }, async () => {
  const token = await sign(keys.secret, ACCOUNT, { claims: { filter: 'sources=cam-a' } });
  const page = await browser().newPage();
  try {
    await page.goto(`${gw.url}/version`);
    const wsUrl = `${gw.url.replace('http', 'ws')}/1/ws`;
    const result = page.evaluate(pageSubscribe, { url: wsUrl, token, until: 'sentinel' });
    await page.waitForFunction(() => (globalThis as unknown as { opened?: boolean }).opened === true);
    const body = publishBody([
      { event_id: 'a1', source: 'cam-a' },
      { event_id: 'b1', source: 'cam-b' },
      { event_id: 'a2', source: 'cam-a' },
      { event_id: 'sentinel', source: 'cam-a' },
    ]);
    const a = await publish(gw.url, body, { Authorization: `Bearer ${token}` });
    assert.equal(a.status, 201, a.text);
    assert.deepEqual(await result, { protocol: 'luna-sender', events: ['a1', 'a2', 'sentinel'] });
  } finally {
    await page.close();
  }
});

test('a browser with a token for another purpose gets no socket', { skip }, async () => {
  const token = await sign(keys.secret, ACCOUNT, { claims: { permissions: { event: ['creation'] } } });
  const page = await browser().newPage();
  try {
    await page.goto(`${gw.url}/version`);
    const wsUrl = `${gw.url.replace('http', 'ws')}/1/ws`;
    const result = await page.evaluate(pageSubscribe, { url: wsUrl, token, until: 'never' });
    // A refused handshake (403 here) is 1006 to a page: the browser hides the HTTP answer.
    assert.deepEqual(result, { failed: 1006 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { opened?: boolean }).opened), undefined);
  } finally {
    await page.close();
  }
});
