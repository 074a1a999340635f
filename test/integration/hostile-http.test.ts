import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { type RawAnswer, rawHttp } from '../helpers/raw-http.js';
import { type Client, connect } from '../helpers/ws-client.js';

// Issue 11, Hostile HTTP: what uWS 20.30's parser lets through or never answers, sent as raw bytes.
// Each case asserts what the gateway answers, or, where uWS decides alone (README: Front proxy and
// what uWS decides), the documented behaviour.
let gw: Gateway;
let sub: Client;
let sentinels = 0;

before(async () => {
  gw = await startGateway();
  sub = await connect(`${gw.url.replace('http', 'ws')}/1/ws?luna_account_id=${ACCOUNT}`);
});
after(async () => {
  sub.close();
  await gw.stop();
});

const inner = publishBody([{ event_id: 'smuggled' }]);
/** A complete publish request: what a smuggling attempt hides in the body of the outer one. */
const SMUGGLED = `POST /1/publish HTTP/1.1\r\nHost: x\r\nLuna-Account-Id: ${ACCOUNT}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(inner)}\r\n\r\n${inner}`;
const head = (lines: string) => `POST /1/publish HTTP/1.1\r\nHost: x\r\nLuna-Account-Id: ${ACCOUNT}\r\nContent-Type: application/json\r\n${lines}\r\n`;

/** Nothing was delivered since the last check: the next event the subscriber sees is a fresh sentinel. */
async function nothingSmuggled(): Promise<void> {
  const id = `sentinel-${++sentinels}`;
  const before = sub.messages.length;
  assert.equal((await publish(gw.url, publishBody([{ event_id: id }]))).status, 201);
  const got = await sub.waitFor(before + 1);
  assert.match(got[before]!, new RegExp(`"${id}"`), `something arrived before the sentinel: ${got[before]}`);
}

function refusedAndClosed(a: RawAnswer, detail: RegExp): void {
  assert.equal(a.status, 400, a.head);
  assert.equal(JSON.parse(a.body).error_code, 12012);
  assert.match(JSON.parse(a.body).detail, detail);
  assert.ok(a.closedByServer, 'the connection is closed after the answer');
  assert.match(a.head, /^connection: close/im);
}

/**
 * With a request hidden behind the doubtful framing (in the same packet), uWS 20.30 finds it while
 * the refusal is pending and drops the connection unanswered (http/router.ts answerLater); a 400
 * would do as well. Never the hidden request's answer, and never a hang.
 */
function smugglingRefused(a: RawAnswer): void {
  assert.ok(a.status === 0 || a.status === 400, a.head);
  assert.ok(a.closedByServer, 'the connection is closed');
  assert.doesNotMatch(a.head, /201 Created/);
}

test('conflicting Content-Length lines: 400/12012, closed; the request hidden in the body is not run', async () => {
  refusedAndClosed(await rawHttp(gw.port, `${head('Content-Length: 2\r\nContent-Length: 5\r\n')}{}`), /Content-Length' is given more than once/);
  smugglingRefused(await rawHttp(gw.port, `${head(`Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n`)}${SMUGGLED}`));
  await nothingSmuggled();
});

test('Transfer-Encoding other than exactly chunked (xchunked, chunked+identity, gzip, identity): 400/12012, closed, nothing smuggled', async () => {
  for (const te of ['xchunked', 'chunked, identity', 'gzip, chunked', 'identity', 'chunked ,chunked']) {
    refusedAndClosed(await rawHttp(gw.port, `${head(`Transfer-Encoding: ${te}\r\n`)}0\r\n\r\n`), /Transfer-Encoding' must be 'chunked'/);
    smugglingRefused(await rawHttp(gw.port, `${head(`Transfer-Encoding: ${te}\r\n`)}0\r\n\r\n${SMUGGLED}`));
  }
  // The same on an upgrade: its framing is refused before any socket exists.
  const upgrade = `GET /1/ws?luna_account_id=${ACCOUNT} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`;
  const up = await rawHttp(gw.port, upgrade);
  assert.equal(up.status, 400, up.head);
  assert.ok(up.closedByServer);
  smugglingRefused(await rawHttp(gw.port, `${upgrade}${SMUGGLED}`));
  await nothingSmuggled();
});

test('Transfer-Encoding: chunked (any case) still publishes', async () => {
  const body = publishBody([{ event_id: 'chunked-ok' }]);
  for (const te of ['chunked', 'Chunked']) {
    const a = await rawHttp(
      gw.port,
      `${head(`Transfer-Encoding: ${te}\r\nConnection: close\r\n`)}${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    );
    assert.equal(a.status, 201, a.head);
  }
  await sub.waitFor(sub.messages.length);
});

test('uWS drops the connection unanswered on a non-decimal Content-Length and on Content-Length with Transfer-Encoding', async () => {
  for (const lines of [
    'Content-Length: +2\r\n',
    'Content-Length: 0x2\r\n',
    'Content-Length: 2, 2\r\n',
    'Content-Length: -1\r\n',
    'Content-Length: 99999999999999999999\r\n',
    'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n',
  ]) {
    // The deadline only bounds the wait: the server closes the connection itself.
    const a = await rawHttp(gw.port, `${head(lines)}2\r\n{}\r\n0\r\n\r\n${SMUGGLED}`, 5000);
    assert.equal(a.status, 0, `${lines}: ${a.head}`);
    assert.ok(a.closedByServer, `${lines}: uWS closes the connection`);
  }
  await nothingSmuggled();
});

test('known uWS 20.30 behaviour: a chunk followed by XX instead of CRLF is accepted (uWS skips two bytes unchecked)', async () => {
  const body = publishBody([{ event_id: 'bad-chunk-framing' }]);
  const a = await rawHttp(
    gw.port,
    `${head('Transfer-Encoding: chunked\r\nConnection: close\r\n')}${Buffer.byteLength(body).toString(16)}\r\n${body}XX0\r\n\r\n`,
  );
  // Documented in the README (Front proxy and what uWS decides); a front proxy re-frames the body.
  assert.equal(a.status, 201, a.head);
  await sub.waitFor(sub.messages.length);
});

/**
 * Requests uWS 20.30 never hands to the application: its parser takes them for an incomplete
 * request and waits for more bytes until its 10 s idle timeout. The wait here is bounded and does
 * not measure anything: no answer is the documented behaviour; an answer (a newer uWS) must be a
 * proper one. Either way the gateway keeps serving.
 */
async function uwsDecides(t: TestContext, name: string, request: string, okStatus: number): Promise<void> {
  const a = await rawHttp(gw.port, request, 1500);
  if (a.status === 0) t.diagnostic(`${name}: no answer (known uWS 20.30 behaviour; README: Front proxy and what uWS decides)`);
  else assert.equal(a.status, okStatus, `${name}: ${a.head}`);
  assert.equal((await http(`${gw.url}/version`)).status, 200);
}

test('known uWS 20.30 behaviour: HTTP/1.0 requests get no answer', async (t) => {
  await uwsDecides(t, 'HTTP/1.0', 'GET /version HTTP/1.0\r\n\r\n', 505);
  await uwsDecides(t, 'HTTP/1.0 with Host', 'GET /version HTTP/1.0\r\nHost: x\r\n\r\n', 505);
});

test('known uWS 20.30 behaviour: an HTTP/1.1 request without Host gets no answer (an empty Host is served)', async (t) => {
  const empty = await rawHttp(gw.port, 'GET /version HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
  assert.equal(empty.status, 200);
  await uwsDecides(t, 'no Host', 'GET /version HTTP/1.1\r\n\r\n', 400);
});

test('known uWS 20.30 behaviour: an absolute-form target gets no answer', async (t) => {
  await uwsDecides(t, 'absolute-form', 'GET http://x/version HTTP/1.1\r\nHost: x\r\n\r\n', 400);
});

test('known uWS 20.30 behaviour: 49 or more header lines get no answer; 48 are served', async (t) => {
  const lines = (n: number) => Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const ok = await rawHttp(gw.port, `GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${lines(47)}\r\n`);
  assert.equal(ok.status, 200, 'Host, Connection and 46 more: 48 lines');
  await uwsDecides(t, '49 header lines', `GET /version HTTP/1.1\r\nHost: x\r\n${lines(49)}\r\n`, 431);
});

test('known uWS 20.30 behaviour: a chunk extension (`;name=value`) gets no answer', async (t) => {
  await uwsDecides(t, 'chunk extension', `${head('Transfer-Encoding: chunked\r\n')}2;ext=1\r\n{}\r\n0\r\n\r\n`, 400);
});
