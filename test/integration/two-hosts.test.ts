import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN } from '../helpers/gateway.js';
import { ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { createTopology, netnsUnavailable, type Topology, tcpOpens } from '../helpers/netns.js';
import { redisPing } from '../helpers/redis.js';
import { type Captured, spawnCaptured } from '../helpers/spawn.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * SPEC 9, "a client may resume on any worker of any host": two gateway hosts and Redis on a third,
 * each in its own network namespace on one bridge. hostA's link is cut for 10 s while a publisher
 * keeps publishing through hostB; hostA's subscribers give up on their sockets, resume on hostB
 * from their last frame, and end up with exactly the frames of a twin that stayed on hostB all
 * along. "Nothing more arrived" is decided by a sentinel event, never by a wait.
 *
 * The ports are fixed: each namespace has its own, nothing else listens there.
 */
const PORT = 8080;
const REDIS_PORT = 6379;
const SUBSCRIBERS = 5;
const CUT_MS = 10_000;
/** Bounds the publisher; at its pace the test needs well under half of it. */
const MAX_EVENTS = 5000;

const unavailable = await netnsUnavailable();

/** A process inside a namespace: `ip netns exec` execs it, so the child's pid is the process itself. */
const inNs = (ns: string, command: string, args: string[], env: Record<string, string> = {}) =>
  spawnCaptured('ip', ['netns', 'exec', ns, command, ...args], env);

/** SIGTERM, SIGKILL if it has not exited within 5 s; resolves once it is gone. */
async function stop(p: Captured | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(timer);
}

const streamPosition = (c: Client) => String(c.headers['luna-stream-position']);
const positionOf = (frame: string) => (JSON.parse(frame) as { position: string }).position;
const kOf = (frame: string) => (JSON.parse(frame) as { event: { k?: number } }).event.k;

describe('two gateway hosts and Redis on a third, in network namespaces made by the test', { skip: unavailable }, () => {
  let topo: Topology | undefined;
  let redis: Captured | undefined;
  const gateways = new Map<string, Captured>();
  const clients: Client[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'luna-sender-two-hosts-'));

  const base = (host: string) => `http://${topo!.addr(host)}:${PORT}`;
  const sub = async (host: string, query: string) => {
    const c = await connect(`ws://${topo!.addr(host)}:${PORT}/2/ws?${query}`, { 'Luna-Account-Id': ACCOUNT });
    clients.push(c);
    return c;
  };
  /** Every process's output, for a failure message. */
  const output = () =>
    [...gateways, ['redis', redis] as const].map(([name, p]) => `--- ${name}\n${p?.stdout().slice(-3000)}\n${p?.stderr().slice(-3000)}`).join('\n');

  before(async () => {
    topo = await createTopology(['redis', 'hostA', 'hostB']);
    const redisAddr = topo.addr('redis');
    // Protected mode would refuse the gateways: they are not on loopback and there is no password.
    const args = ['--port', String(REDIS_PORT), '--bind', redisAddr, '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir];
    redis = inNs(topo.ns('redis'), 'redis-server', args);
    await waitFor(() => redisPing(REDIS_PORT, redisAddr), `redis-server on ${redisAddr}`, 10_000);
    for (const host of ['hostA', 'hostB']) {
      const g = inNs(topo.ns(host), process.execPath, [MAIN], {
        REDIS_URL: `redis://${redisAddr}:${REDIS_PORT}`,
        SENDER_WORKERS: '1',
        SENDER_HOST: '0.0.0.0',
        SENDER_PORT: String(PORT),
      });
      gateways.set(host, g);
      await waitFor(() => g.stdout().includes('luna-sender listening on') || g.child.exitCode !== null, `gateway on ${host}`, 20_000).catch((err) => {
        throw new Error(`${(err as Error).message}\n${output()}`);
      });
      assert.equal(g.child.exitCode, null, `gateway on ${host} exited\n${output()}`);
      assert.ok(await tcpOpens(topo.addr(host), PORT, 2000), `gateway on ${host} is not reachable from the test's namespace`);
    }
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    // A test that failed mid-cut leaves hostA without its link; back up, its gateway stops cleanly.
    if (topo !== undefined) await topo.restore('hostA').catch(() => undefined);
    for (const g of [...gateways.values()].reverse()) await stop(g);
    await stop(redis);
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("cut one host's link for 10 s: its subscribers reconnect to the other host and resume with nothing lost", { timeout: 180_000 }, async (ctx) => {
    const t = topo!;
    const twin = await sub('hostB', 'positions=1');
    const onA = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => sub('hostA', 'positions=1')));
    // Nothing is published yet, so every subscription starts at the same global position.
    for (const c of onA) assert.equal(streamPosition(c), streamPosition(twin), 'both hosts name the same stream position');

    // The publisher: numbered events through hostB, one per request, until told to stop.
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      for (let k = 0; k < MAX_EVENTS && publishing; k++) {
        const a = await publish(base('hostB'), publishBody([{ k }]));
        assert.equal(a.status, 201, a.text);
        published = k + 1;
        await sleep(10); // paces the load over the cut; decides nothing
      }
    })();
    const failFast = publisher.catch(() => undefined);

    try {
      await Promise.all(onA.map((c) => c.waitFor(20, 20_000)));

      // The cut. The test knows it happened, so its clients on hostA give up at once (the socket
      // would otherwise only break at a ping timeout) and keep what they received.
      await t.cut('hostA');
      const publishedAtCut = published;
      const cutAt = Date.now();
      const seen: string[][] = [];
      for (const c of onA) {
        c.ws.terminate();
        await c.closed;
        seen.push([...c.messages]);
      }
      assert.equal(await tcpOpens(t.addr('hostA'), PORT, 2000), false, 'hostA still answers with its link down');

      // Each reconnects to hostB from its last frame, while hostA is still cut off.
      const resumed: Client[] = [];
      for (const s of seen) {
        const token = positionOf(s[s.length - 1]);
        const c = await sub('hostB', `positions=1&resume=${encodeURIComponent(token)}`);
        assert.equal(streamPosition(c), token, 'the 101 names the resume position');
        resumed.push(c);
      }
      // Live events reach them through hostB during the cut.
      const liveFrom = published;
      await Promise.all(
        resumed.map((c) => waitFor(() => c.messages.some((m) => (kOf(m) ?? -1) >= liveFrom), 'a live event on hostB after the resume', 20_000)),
      );
      await sleep(Math.max(0, cutAt + CUT_MS - Date.now())); // the length of the outage; decides nothing
      const publishedDuringCut = published - publishedAtCut;
      await t.restore('hostA');
      await waitFor(() => tcpOpens(t.addr('hostA'), PORT, 1000), 'hostA reachable again', 30_000);

      publishing = false;
      await publisher;
      assert.ok(publishedDuringCut > 0, 'events were published while hostA was cut off');
      assert.ok(published < MAX_EVENTS, 'the publisher ran until told to stop');

      // A sentinel through hostB that everyone receives: after it, nothing else is on its way.
      const sentinel = async (cs: Client[], mark: string) => {
        const a = await publish(base('hostB'), publishBody([{ sentinel: mark }]));
        assert.equal(a.status, 201, a.text);
        await Promise.all(cs.map((c) => waitFor(() => c.messages.some((m) => m.includes(`"sentinel":"${mark}"`)), `sentinel ${mark}`, 30_000)));
      };
      await sentinel([twin, ...resumed], 'end');

      // The twin itself lost nothing: every published event once, in order, then the sentinel.
      assert.deepEqual(twin.messages.map(kOf), [...Array.from({ length: published }, (_, k) => k), undefined], 'the twin received every event once, in order');
      ctx.diagnostic(
        `${published} events; ${publishedDuringCut} while hostA was cut off; hostA subscribers had ${seen.map((s) => s.length).join(', ')} frames before`,
      );
      for (const [i, c] of resumed.entries()) {
        assert.ok(seen[i].length < twin.messages.length - 1, `subscriber ${i} missed events while cut off (otherwise there was nothing to resume)`);
        assert.deepEqual([...seen[i], ...c.messages], twin.messages, `subscriber ${i}: its frames before and after the resume equal the twin's`);
      }

      // hostA recovered from the outage: a subscriber resuming there replays the same bytes.
      const back = await sub('hostA', `positions=1&resume=${encodeURIComponent(positionOf(twin.messages[0]))}`);
      await sentinel([twin, back], 'back');
      assert.deepEqual(back.messages, twin.messages.slice(1), 'a resume on hostA after the outage equals the twin');
    } catch (err) {
      publishing = false;
      await failFast;
      (err as Error).message += `\n${output()}`;
      throw err;
    }
  });
});
