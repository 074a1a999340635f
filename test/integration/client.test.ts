import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import type { WebSocketConstructor } from '../../src/client/index.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT } from '../helpers/http.js';
import { BrowserLikeWebSocket, publishEvents, sentinel, startClient, type Tracked } from '../helpers/luna-client.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { connect } from '../helpers/ws-client.js';

/**
 * The integrators' client (src/client) against the real gateway. Network blips are a TCP proxy
 * destroying its sockets (no close frame); "nothing more arrived" is a sentinel event, never a
 * sleep; every client is compared with an uninterrupted twin subscribed with the same filter.
 */
let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw.stop());

const twinOf = (g: Gateway, query: string) => connect(`ws://127.0.0.1:${g.port}/2/ws?positions=1&${query}`, { 'Luna-Account-Id': ACCOUNT });
const viaProxy = (p: TcpProxy) => `ws://127.0.0.1:${p.port}`;
const positionOf = (frame: string) => (JSON.parse(frame) as { position: string }).position;
const connecting = (t: Tracked) => t.states.filter((s) => s.state === 'connecting');
const Browser = BrowserLikeWebSocket as unknown as WebSocketConstructor;

describe('LunaSenderClient (Node, ws)', () => {
  test('receives the events its filter accepts, as the gateway sent them', async () => {
    const twin = await twinOf(gw, 'gender=1');
    const t = startClient(`ws://127.0.0.1:${gw.port}`, { filters: { gender: 1 } });
    await t.until(() => t.opens() === 1, 'open');
    await publishEvents(gw, 6);
    await sentinel(gw, [twin], [t]);
    assert.deepEqual(t.frames, twin.messages);
    assert.equal(t.frames.length, 4);
    assert.equal(t.client.position, positionOf(t.frames[t.frames.length - 1]));
    t.client.stop();
    twin.close();
    assert.deepEqual(t.states.at(-1), { state: 'stopped' });
  });

  test('a blip (network down a while): reconnects with resume, no gap, no duplicate', async () => {
    const proxy = await startTcpProxy(gw.port);
    const twin = await twinOf(gw, 'gender=1&sources=cam1,cam2');
    const t = startClient(viaProxy(proxy), { filters: 'gender=1&sources=cam1,cam2' });
    try {
      await t.until(() => t.opens() === 1, 'open');
      await publishEvents(gw, 4);
      await sentinel(gw, [twin], [t]);
      const before = t.client.position;
      proxy.drop({ hold: true });
      await t.until(() => t.states.some((s) => s.state === 'waiting'), 'the drop noticed');
      await publishEvents(gw, 5);
      proxy.restore();
      await t.until(() => t.opens() === 2, 'reconnected');
      await publishEvents(gw, 3);
      await sentinel(gw, [twin], [t]);
      assert.deepEqual(t.frames, twin.messages);
      assert.equal(t.gaps.length, 0);
      assert.equal(connecting(t).at(-1)!.state === 'connecting' && connecting(t).at(-1)!.resume, before);
    } finally {
      t.client.stop();
      twin.close();
      await proxy.close();
    }
  });

  test('repeated drops while events keep coming: exactly what the twin received', async () => {
    const proxy = await startTcpProxy(gw.port);
    const twin = await twinOf(gw, '');
    const t = startClient(viaProxy(proxy));
    let publishing = true;
    try {
      await t.until(() => t.opens() === 1, 'open');
      const load = (async () => {
        while (publishing) await publishEvents(gw, 1);
      })();
      for (let round = 0; round < 6; round++) {
        const seen = t.frames.length;
        await t.until(() => t.frames.length > seen, `events in round ${round}`);
        proxy.drop();
        await t.until(() => t.opens() === round + 2, `reconnect ${round}`);
      }
      publishing = false;
      await load;
      await sentinel(gw, [twin], [t]);
      assert.deepEqual(t.frames, twin.messages);
      assert.equal(t.gaps.length, 0);
    } finally {
      publishing = false;
      t.client.stop();
      twin.close();
      await proxy.close();
    }
  });

  test("a drop before any frame resumes from the 101's Luna-Stream-Position (ws shows it)", async () => {
    const proxy = await startTcpProxy(gw.port);
    const twin = await twinOf(gw, '');
    const t = startClient(viaProxy(proxy));
    try {
      await t.until(() => t.opens() === 1, 'open');
      const start = t.client.position;
      assert.ok(start !== undefined);
      proxy.drop({ hold: true });
      await t.until(() => t.states.some((s) => s.state === 'waiting'), 'the drop noticed');
      await publishEvents(gw, 3);
      proxy.restore();
      await t.until(() => t.opens() === 2, 'reconnected');
      await sentinel(gw, [twin], [t]);
      assert.deepEqual(t.frames, twin.messages);
      assert.equal(t.frames.length, 4);
      assert.equal(t.gaps.length, 0);
    } finally {
      t.client.stop();
      twin.close();
      await proxy.close();
    }
  });

  test('a persisted position: a new client started from it receives what the old one missed', async () => {
    const twin = await twinOf(gw, '');
    const first = startClient(`ws://127.0.0.1:${gw.port}`);
    await first.until(() => first.opens() === 1, 'open');
    await publishEvents(gw, 2);
    await sentinel(gw, [twin], [first]);
    first.client.stop();
    const saved = first.client.position;
    await publishEvents(gw, 3);
    const second = startClient(`ws://127.0.0.1:${gw.port}`, { position: saved });
    await second.until(() => second.opens() === 1, 'open');
    await sentinel(gw, [twin], [second]);
    assert.deepEqual([...first.frames, ...second.frames], twin.messages);
    second.client.stop();
    twin.close();
  });

  test('the gateway restarted (epoch changed): the 410 is reported as a gap and the client subscribes afresh', async () => {
    const old = await startGateway();
    const proxy = await startTcpProxy(old.port);
    const t = startClient(viaProxy(proxy));
    let restarted: Gateway | undefined;
    try {
      await t.until(() => t.opens() === 1, 'open');
      await publishEvents(old, 2);
      await sentinel(old, [], [t]);
      const lost = t.client.position;
      proxy.drop({ hold: true });
      await old.stop();
      restarted = await startGateway();
      proxy.retarget(restarted.port);
      proxy.restore();
      await t.until(() => t.gaps.length === 1 && t.opens() === 2, 'gap and a fresh subscription');
      assert.equal(t.gaps[0].reason, 'refused');
      assert.match(t.gaps[0].detail, /epoch changed/);
      assert.equal(t.gaps[0].position, lost);
      const open = t.states.filter((s) => s.state === 'open').at(-1)!;
      assert.ok(open.state === 'open' && !open.resumed);
      const twin = await twinOf(restarted, '');
      const kept = t.frames.length;
      await publishEvents(restarted, 3);
      await sentinel(restarted, [twin], [t]);
      assert.deepEqual(t.frames.slice(kept), twin.messages);
      twin.close();
    } finally {
      t.client.stop();
      await proxy.close();
      await restarted?.stop();
    }
  });
});

describe('LunaSenderClient (browser API only: no 101 headers, no HTTP status)', () => {
  test('a blip after a frame: resumes, no gap (the probe does not mistake an outage for a refusal)', async () => {
    const proxy = await startTcpProxy(gw.port);
    const twin = await twinOf(gw, '');
    const t = startClient(viaProxy(proxy), { WebSocket: Browser });
    try {
      await t.until(() => t.opens() === 1, 'open');
      await sentinel(gw, [twin], [t]);
      proxy.drop({ hold: true });
      await t.until(() => t.states.filter((s) => s.state === 'waiting').length >= 2, 'resume and probe both failed');
      await publishEvents(gw, 3);
      proxy.restore();
      await t.until(() => t.opens() === 2, 'reconnected');
      await sentinel(gw, [twin], [t]);
      assert.deepEqual(t.frames, twin.messages);
      assert.equal(t.gaps.length, 0);
    } finally {
      t.client.stop();
      twin.close();
      await proxy.close();
    }
  });

  test('a refused resume is found by a probe, reported, and the client subscribes afresh', async () => {
    const old = await startGateway();
    const proxy = await startTcpProxy(old.port);
    const t = startClient(viaProxy(proxy), { WebSocket: Browser });
    let restarted: Gateway | undefined;
    try {
      await t.until(() => t.opens() === 1, 'open');
      await sentinel(old, [], [t]);
      proxy.drop({ hold: true });
      await old.stop();
      restarted = await startGateway();
      proxy.retarget(restarted.port);
      proxy.restore();
      await t.until(() => t.gaps.length === 1 && t.opens() === 2, 'gap and a fresh subscription');
      assert.equal(t.gaps[0].reason, 'refused');
      const twin = await twinOf(restarted, '');
      const kept = t.frames.length;
      await sentinel(restarted, [twin], [t]);
      assert.deepEqual(t.frames.slice(kept), twin.messages);
      twin.close();
    } finally {
      t.client.stop();
      await proxy.close();
      await restarted?.stop();
    }
  });

  test('a drop before any frame: no position to resume from, reported as a gap', async () => {
    const proxy = await startTcpProxy(gw.port);
    const t = startClient(viaProxy(proxy), { WebSocket: Browser });
    try {
      await t.until(() => t.opens() === 1, 'open');
      assert.equal(t.client.position, undefined);
      proxy.drop();
      await t.until(() => t.gaps.length === 1 && t.opens() === 2, 'gap and a fresh subscription');
      assert.equal(t.gaps[0].reason, 'no-position');
      const twin = await twinOf(gw, '');
      await sentinel(gw, [twin], [t]);
      assert.deepEqual(t.frames, twin.messages);
      twin.close();
    } finally {
      t.client.stop();
      await proxy.close();
    }
  });
});

describe('LunaSenderClient against a scripted server', () => {
  test('4010 history lost: a gap, then a subscription without resume', async () => {
    const urls: string[] = [];
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (ws, req) => {
      urls.push(req.url ?? '');
      if (urls.length === 1) {
        ws.send('{"event": {}, "position": "e1:5-0"}');
        ws.close(4010, 'history lost');
      }
    });
    const t = startClient(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    try {
      await t.until(() => t.opens() === 2, 'reconnected');
      assert.deepEqual(
        t.gaps.map((g) => [g.reason, g.position]),
        [['history-lost', 'e1:5-0']],
      );
      assert.ok(!urls[0].includes('resume='));
      assert.ok(!urls[1].includes('resume='), urls[1]);
      assert.match(urls[1], /positions=1/);
    } finally {
      t.client.stop();
      await new Promise((r) => wss.close(r));
    }
  });

  test('a bad filter (400) is not retried: state failed with the detail', async () => {
    const t = startClient(`ws://127.0.0.1:${gw.port}`, { filters: { gender: 7 } });
    await t.until(() => t.states.some((s) => s.state === 'failed'), 'failed');
    const f = t.states.find((s) => s.state === 'failed')!;
    assert.ok(f.state === 'failed' && f.status === 400 && /gender/.test(f.detail), JSON.stringify(f));
    assert.equal(t.opens(), 0);
  });
});
