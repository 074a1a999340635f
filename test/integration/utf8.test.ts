import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, errorBody, HANDLER, http, publish, publishBody } from '../helpers/http.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * Event text that is not UTF-8 must never reach a WebSocket text frame: RFC 6455 makes a conforming
 * client (here the `ws` library, which validates) fail the connection, so one such publish would
 * disconnect every subscriber of the account.
 */
const BAD: [string, Buffer][] = [
  ['Latin-1 e9', Buffer.from([0xe9])],
  ['ff fe', Buffer.from([0xff, 0xfe])],
  ['overlong c0 af', Buffer.from([0xc0, 0xaf])],
  ['truncated e2 82', Buffer.from([0xe2, 0x82])],
  ['truncated f0 9f 98', Buffer.from([0xf0, 0x9f, 0x98])],
  ['CESU-8 surrogate ed a0 80', Buffer.from([0xed, 0xa0, 0x80])],
  ['above U+10FFFF f4 90 80 80', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
];

/** A publish body with `bad` inside the event's string "s"; returns it and the offset of `bad`. */
function bodyWith(bad: Buffer): { body: Buffer; offset: number } {
  const head = Buffer.from('{"events":[{"s":"caf');
  const tail = Buffer.from(`"}],"handler_id":"${HANDLER}","event_create_time":"t","event_end_time":"t"}`);
  return { body: Buffer.concat([head, bad, tail]), offset: head.length };
}

function postBytes(base: string, body: Buffer): ReturnType<typeof http> {
  return http(`${base}/2/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT }, body });
}

describe('in-process bus', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => gw?.stop());

  test('regression: invalid UTF-8 in event text is refused on /publish with 400 12002 naming the offset', async () => {
    const sub = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
    let closed = false;
    void sub.closed.then(() => (closed = true));
    for (const [name, bad] of BAD) {
      const { body, offset } = bodyWith(bad);
      const a = await postBytes(gw.url, body);
      assert.equal(a.status, 400, name);
      const e = errorBody(a);
      assert.equal(e.error_code, 12002, name);
      assert.match(e.detail, new RegExp(`UTF-8.*byte offset ${offset}\\b`), name);
    }
    // The subscriber connected during the bad publishes is still open and gets the sentinel first.
    assert.equal((await publish(gw.url, publishBody([{ sentinel: 1 }]))).status, 201);
    const [first] = await sub.waitFor(1);
    assert.match(first, /^\{"event": \{"sentinel":1\}/);
    assert.equal(closed, false);
    sub.close();
  });

  test('regression: invalid UTF-8 check keeps valid UTF-8 and JSON escapes byte-exact', async () => {
    const sub = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
    const eventText = '{"s": "café € 𝄞 日本", "esc": "\\ud800\\udc00 \\ud800", "n": 12345678901234567890}';
    const body = `{"events": [${eventText}], "handler_id": "${HANDLER}", "event_create_time": "t", "event_end_time": "t"}`;
    assert.equal((await postBytes(gw.url, Buffer.from(body))).status, 201);
    const [msg] = await sub.waitFor(1);
    assert.ok(msg.startsWith(`{"event": ${eventText}, "handler_id"`), msg);
    sub.close();
  });
});

describe('Redis bus: LUNA channel and direct XADD', () => {
  let redis: TestRedis;
  let admin: Redis;
  let gw: Gateway;
  const key = `test:utf8:${randomUUID()}`;
  const prefix = `test-utf8-${randomUUID().slice(0, 8)}`;
  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { lazyConnect: true });
    admin.on('error', () => {});
    await admin.connect();
    gw = await startGateway({ REDIS_URL: redis.url, SENDER_STREAM_KEY: key, SENDER_LUNA_CHANNEL_PREFIX: prefix });
  });
  after(async () => {
    await gw?.stop();
    admin?.disconnect();
    await redis?.stop();
  });

  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await http(`${gw.url}/metrics`)).text)?.[1] ?? NaN);
  const lunaMessage = (event: Buffer) =>
    Buffer.concat([Buffer.from('{"handler_id": "h", "events": ['), event, Buffer.from('], "event_create_time": "c", "event_end_time": "e"}')]);

  async function subscribe(): Promise<{ sub: Client; isClosed: () => boolean }> {
    const sub = await connect(`ws://127.0.0.1:${gw.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
    let closed = false;
    void sub.closed.then(() => (closed = true));
    return { sub, isClosed: () => closed };
  }

  test('regression: invalid UTF-8 on the LUNA channel is skipped and counted as malformed', async () => {
    const { sub, isClosed } = await subscribe();
    // Until the bridge holds the lease nothing is forwarded: repeat a warm-up until it arrives.
    await waitFor(async () => {
      await admin.publish(`${prefix}:${ACCOUNT}`, lunaMessage(Buffer.from('{"warm": 1}')));
      return sub.messages.length > 0;
    }, 'the bridge forwarding');
    const before = await metric('luna_sender_malformed_luna_messages_total');
    for (const [, bad] of BAD) {
      await admin.publish(`${prefix}:${ACCOUNT}`, lunaMessage(Buffer.concat([Buffer.from('{"s": "caf'), bad, Buffer.from('"}')])));
    }
    await admin.publish(`${prefix}:${ACCOUNT}`, lunaMessage(Buffer.from('{"sentinel": "luna"}')));
    await waitFor(() => sub.messages.some((m) => m.includes('sentinel')), 'the sentinel');
    // The bridge handles messages in order, so the bad ones were counted before the sentinel went out.
    assert.equal((await metric('luna_sender_malformed_luna_messages_total')) - before, BAD.length);
    assert.deepEqual(
      sub.messages.filter((m) => !m.includes('"warm"')).map((m) => m.slice(0, 32)),
      ['{"event": {"sentinel": "luna"}, '],
    );
    assert.equal(isClosed(), false);
    sub.close();
  });

  test('regression: invalid UTF-8 in a stream entry written directly is skipped and counted as malformed', async () => {
    const { sub, isClosed } = await subscribe();
    const frame = (event: Buffer) =>
      Buffer.concat([
        Buffer.from('{"event": '),
        event,
        Buffer.from(
          ', "handler_id": "h", "event-create-time": "c", "event-end-time": "e", "Luna-Request-id": "1700000000,00000000-0000-4000-8000-000000000000"}',
        ),
      ]);
    const before = await metric('luna_sender_malformed_stream_entries_total');
    for (const [, bad] of BAD) {
      // With and without `p`: a producer's facts do not make the frame trustworthy.
      const f = frame(Buffer.concat([Buffer.from('{"s": "caf'), bad, Buffer.from('"}')]));
      await admin.xadd(key, '*', 'a', ACCOUNT, 'f', f);
      await admin.xadd(key, '*', 'a', ACCOUNT, 'f', f, 'p', Buffer.from([0x80]));
    }
    await admin.xadd(key, '*', 'a', ACCOUNT, 'f', frame(Buffer.from('{"sentinel": "xadd"}')));
    const [first] = await sub.waitFor(1);
    assert.match(first, /^\{"event": \{"sentinel": "xadd"\}/);
    assert.equal((await metric('luna_sender_malformed_stream_entries_total')) - before, 2 * BAD.length);
    assert.equal(isClosed(), false);
    sub.close();
  });
});
