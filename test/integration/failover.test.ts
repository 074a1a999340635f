import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { freePort } from '../helpers/port.js';
import { redisPing } from '../helpers/redis.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * A real Sentinel failover (SPEC 11: "A 201 then survives a Sentinel failover"): a master, one
 * replica, three Sentinels (quorum 2), two in-process gateways that find the master through the
 * Sentinels with SENDER_REDIS_MIN_REPLICAS=1. Publisher lanes publish numbered events, each with
 * its own Idempotency-Key, retrying the same key on 503 until 201. Mid-stream the master is
 * SIGKILLed; the Sentinels promote the replica and the gateways follow it. The killed node then
 * comes back as a replica of the new master (without one, WAIT 1 could never be satisfied again
 * and every later publish would be a 503 "may still be delivered"). One subscriber's connection is
 * cut during the outage and resumes on the other gateway afterwards.
 *
 * Asserted: every event answered 201 reached every subscriber exactly once; no event at all
 * (201 or not) reached anyone twice; each lane's events arrive in publish order, and an event
 * acknowledged before another was first sent precedes it; every subscriber (the resumed one as
 * pre-cut frames plus replay) received byte-identical frames. Counts of 503s and retries are
 * logged, never asserted; timings are deadlines only.
 */

const NAME = 'mymaster';
const LANES = 4;
/** Events acknowledged before the master is killed, and after the new replica is in sync. */
const BEFORE_KILL = 120;
const AFTER_RESTORE = 120;
/** Bounds: events per lane, attempts per event, the whole publishing phase. */
const MAX_PER_LANE = 2000;
const MAX_ATTEMPTS = 80;
const PUBLISH_PHASE_MS = 90_000;
const FAILOVER_DEADLINE_MS = 45_000;

interface Proc {
  name: string;
  port: number;
  child: ChildProcess;
  output: () => string;
}

const procs: Proc[] = [];
const dirs: string[] = [];
const redisClients: Redis[] = [];
const gateways: Gateway[] = [];
const clients: Client[] = [];

after(async () => {
  for (const c of clients) c.ws.terminate();
  for (const g of gateways) await g.stop().catch(() => undefined);
  for (const r of redisClients) r.disconnect();
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      const exited = new Promise((r) => p.child.once('exit', r));
      p.child.kill('SIGKILL');
      await exited;
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** redis-server with `args` (a config file and --sentinel, or plain options), answering PING. */
async function launch(name: string, port: number, args: string[]): Promise<Proc> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const p: Proc = { name, port, child, output: () => out };
  procs.push(p);
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${out}`);
      return redisPing(port);
    },
    `${name} answering PING`,
    10000,
  );
  return p;
}

function dataNode(name: string, port: number, dir: string, extra: string[] = []): Promise<Proc> {
  // No 5 s wait before a full sync (the default diskless delay): on either node, since either may be the master.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync-delay', '0'];
  return launch(name, port, [...args, ...extra]);
}

function admin(port: number): Redis {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  r.on('error', () => undefined);
  redisClients.push(r);
  return r;
}

/** `[k1, v1, k2, v2, ...]` (SENTINEL REPLICAS / SENTINELS entries) as a map. */
function fields(flat: unknown): Map<string, string> {
  const a = flat as string[];
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < a.length; i += 2) m.set(String(a[i]), String(a[i + 1]));
  return m;
}

const positionOf = (frame: string) => (JSON.parse(frame) as { position: string }).position;

/** A positions=1 subscriber; its frames are those of every connection it had, in order. */
class Subscriber {
  readonly conns: Client[] = [];
  /** Closes the gateway initiated (not our own cut). */
  readonly gatewayCloses: string[] = [];
  private cutByUs = false;
  private startToken = '';

  constructor(
    readonly name: string,
    private gw: Gateway,
  ) {}

  frames(): string[] {
    return this.conns.flatMap((c) => c.messages);
  }

  current(): Client {
    return this.conns[this.conns.length - 1];
  }

  private async open(query: string): Promise<void> {
    const c = await connect(`ws://127.0.0.1:${this.gw.port}/2/ws?${query}`, { 'Luna-Account-Id': ACCOUNT });
    clients.push(c);
    this.conns.push(c);
    this.cutByUs = false;
    c.closed.then(({ code, reason }) => {
      if (!this.cutByUs && this.current() === c) this.gatewayCloses.push(`${code} ${reason}`);
    });
    if (this.startToken === '') this.startToken = String(c.headers['luna-stream-position']);
  }

  start(): Promise<void> {
    return this.open('positions=1');
  }

  /** Cut the TCP connection (no close handshake), as a network failure would. */
  cut(): void {
    this.cutByUs = true;
    this.current().ws.terminate();
  }

  isOpen(): boolean {
    return this.current().ws.readyState === this.current().ws.OPEN;
  }

  /** Reconnect with resume= from the last frame received (or the first 101's position), on `gw`. */
  async resume(gw = this.gw): Promise<void> {
    const f = this.frames();
    const token = f.length > 0 ? positionOf(f[f.length - 1]) : this.startToken;
    this.gw = gw;
    await this.open(`resume=${encodeURIComponent(token)}`);
  }

  /** Resolves once a frame containing `mark` arrived, resuming if the connection was closed. */
  async waitForMark(mark: string): Promise<void> {
    const deadline = Date.now() + 60000;
    while (!this.frames().some((m) => m.includes(mark))) {
      if (Date.now() > deadline) throw new Error(`${this.name}: the end marker did not arrive within 60 s (${this.frames().length} frames)`);
      if (!this.isOpen()) {
        await this.resume();
        continue;
      }
      const c = this.current();
      await Promise.race([c.waitFor(c.messages.length + 1, 5000).catch(() => undefined), c.closed]);
    }
  }
}

interface Outcome {
  lane: number;
  seq: number;
  key: string;
  attempts: number;
  /** performance.now() when the first attempt was sent, and when the 201 came (undefined: never). */
  firstSent: number;
  acked: number | undefined;
}

test('a real Sentinel failover: every 201 is delivered once to every subscriber', { timeout: 240_000 }, async () => {
  const run = Math.random().toString(36).slice(2, 8);
  // --- Redis: a master and one replica, each in its own directory. ---
  const masterPort = await freePort();
  const replicaPort = await freePort();
  const masterDir = mkdtempSync(join(tmpdir(), 'luna-sender-failover-master-'));
  const replicaDir = mkdtempSync(join(tmpdir(), 'luna-sender-failover-replica-'));
  dirs.push(masterDir, replicaDir);
  const master = await dataNode('master', masterPort, masterDir);
  const replica = await dataNode('replica', replicaPort, replicaDir, ['--replicaof', '127.0.0.1', String(masterPort)]);
  const masterAdmin = admin(masterPort);
  await waitFor(async () => {
    await masterAdmin.set('probe', '1');
    return Number(await masterAdmin.call('WAIT', '1', '200')) === 1;
  }, 'the replica in sync and acknowledging');
  masterAdmin.disconnect();

  // --- Three Sentinels, quorum 2, a master down after 1 s. ---
  const sentinels: { proc: Proc; admin: Redis }[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'luna-sender-failover-sentinel-'));
    dirs.push(dir);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${NAME} 1000`,
        `sentinel failover-timeout ${NAME} 5000`,
        `sentinel parallel-syncs ${NAME} 1`,
        '',
      ].join('\n'),
    );
    const proc = await launch(`sentinel-${i + 1}`, port, [conf, '--sentinel']);
    sentinels.push({ proc, admin: admin(port) });
  }
  const sentinelLogs = () =>
    [...procs.filter((p) => p.name.startsWith('sentinel')), replica].map((p) => `--- ${p.name} (port ${p.port}) ---\n${p.output()}`).join('\n');
  // A failover needs each Sentinel to know the other two (hello messages every 2 s) and the replica.
  await waitFor(
    async () => {
      for (const s of sentinels) {
        const others = (await s.admin.call('SENTINEL', 'SENTINELS', NAME).catch(() => [])) as unknown[];
        const replicas = ((await s.admin.call('SENTINEL', 'REPLICAS', NAME).catch(() => [])) as unknown[]).map(fields);
        const ok = replicas.some((r) => r.get('port') === String(replicaPort) && r.get('flags') === 'slave' && r.get('master-link-status') === 'ok');
        if (others.length !== 2 || !ok) return false;
      }
      return true;
    },
    'every Sentinel knowing the other two and the replica',
    30000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${sentinelLogs()}`);
  });

  // --- Two gateways, each finding the master through the three Sentinels. ---
  const env = {
    REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.proc.port}`).join(','),
    REDIS_SENTINEL_NAME: NAME,
    SENDER_REDIS_MIN_REPLICAS: '1',
    SENDER_REDIS_TIMEOUT: '2',
  };
  const gwA = await startGateway(env);
  gateways.push(gwA);
  const gwB = await startGateway(env);
  gateways.push(gwB);

  const onA = new Subscriber('a (stays on A)', gwA);
  const onB = new Subscriber('b (stays on B)', gwB);
  const cut = new Subscriber('cut (A, cut during the outage, resumed on B)', gwA);
  const subs = [onA, onB, cut];
  for (const s of subs) await s.start();

  // --- Publisher lanes. ---
  const outcomes: Outcome[] = [];
  const stats = { s503unconfirmed: 0, s503unavailable: 0, fetchErrors: 0, fetchErrorKinds: new Set<string>(), retries: 0, other: [] as string[] };
  let stop = false;
  let acked = 0;
  const phaseDeadline = Date.now() + PUBLISH_PHASE_MS;
  const gws = [gwA, gwB];
  /** Publishes one event until 201 (the same key every attempt, alternating gateways); false if it gave up. */
  const publishUntil201 = async (o: Outcome, body: string): Promise<boolean> => {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) {
        stats.retries++;
        await sleep(Math.min(25 * 2 ** attempt, 400));
      }
      o.attempts++;
      const gw = gws[(o.lane + o.seq + attempt + gws.length) % gws.length]; // lane -1: the end marker
      let a: Awaited<ReturnType<typeof publish>>;
      try {
        a = await publish(gw.url, body, { 'Idempotency-Key': o.key });
      } catch (err) {
        stats.fetchErrors++;
        stats.fetchErrorKinds.add(String((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message));
        continue;
      }
      if (a.status === 201) {
        o.acked = performance.now();
        acked++;
        return true;
      }
      if (a.status === 503) {
        if (/may still be delivered/.test(a.text)) stats.s503unconfirmed++;
        else stats.s503unavailable++;
        continue;
      }
      stats.other.push(`${a.status} ${a.text}`);
    }
    return false;
  };
  const lane = async (l: number) => {
    for (let seq = 0; seq < MAX_PER_LANE && !stop && Date.now() < phaseDeadline; seq++) {
      const o: Outcome = { lane: l, seq, key: `fo-${run}-${l}-${seq}`, attempts: 0, firstSent: performance.now(), acked: undefined };
      outcomes.push(o);
      await publishUntil201(o, publishBody([{ lane: l, seq }]));
      await sleep(5);
    }
  };
  const lanes = Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)));

  let failoverMs = 0;
  let restoreMs = 0;
  try {
    await waitFor(() => acked >= BEFORE_KILL, `${BEFORE_KILL} publishes answered 201 before the kill`, 30000);

    // --- SIGKILL the master mid-stream; cut one subscriber while Redis is away. ---
    const killedAt = performance.now();
    const gone = new Promise((r) => master.child.once('exit', r));
    master.child.kill('SIGKILL');
    await gone;
    cut.cut();
    const ackedAtKill = acked;

    // --- Every Sentinel names the replica as the master. ---
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const addr = (await s.admin.call('SENTINEL', 'get-master-addr-by-name', NAME).catch(() => undefined)) as string[] | undefined;
          if (!Array.isArray(addr) || addr[1] !== String(replicaPort)) return false;
        }
        return true;
      },
      'the Sentinels to promote the replica',
      FAILOVER_DEADLINE_MS,
    ).catch((err: Error) => {
      throw new Error(`failover did not complete: ${err.message}\n${sentinelLogs()}`);
    });
    failoverMs = performance.now() - killedAt;

    // --- The killed node comes back (empty, no persistence) as a replica of the new master. ---
    const restarted = await dataNode('old master, now replica', masterPort, masterDir, ['--replicaof', '127.0.0.1', String(replicaPort)]);
    const newMasterAdmin = admin(replicaPort);
    await waitFor(
      async () => {
        await newMasterAdmin.set('probe', '2');
        return Number(await newMasterAdmin.call('WAIT', '1', '200')) === 1;
      },
      'the restarted node in sync with the new master',
      30000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- restarted node ---\n${restarted.output()}\n${sentinelLogs()}`);
    });
    restoreMs = performance.now() - killedAt;
    console.log(`# publishes answered 201 between the kill and the failover's completion plus restore: ${acked - ackedAtKill}`);

    // --- The cut subscriber resumes on the other gateway while the lanes keep publishing. ---
    await cut.resume(gwB);
    const ackedAtRestore = acked;
    await waitFor(() => acked >= ackedAtRestore + AFTER_RESTORE, `${AFTER_RESTORE} publishes answered 201 after the new replica synced`, 60000);
  } finally {
    stop = true;
    await lanes;
  }

  // --- An end marker every subscriber receives: after it, nothing more is in flight. ---
  const mark = `end-${run}`;
  const end: Outcome = { lane: -1, seq: 0, key: `fo-${run}-end`, attempts: 0, firstSent: performance.now(), acked: undefined };
  assert.ok(await publishUntil201(end, publishBody([{ marker: mark }])), 'the end marker was never answered 201');
  await Promise.all(subs.map((s) => s.waitForMark(mark)));

  // --- Report (never asserted). ---
  const ok = outcomes.filter((o) => o.acked !== undefined);
  const gaveUp = outcomes.filter((o) => o.acked === undefined);
  const retried = outcomes.filter((o) => o.attempts > 1);
  console.log(
    `# failover: promoted after ${Math.round(failoverMs)} ms, a replica in sync again after ${Math.round(restoreMs)} ms (from the SIGKILL)\n` +
      `# events: ${outcomes.length} published, ${ok.length} answered 201, ${gaveUp.length} never (${gaveUp.map((o) => o.key).join(' ') || '-'})\n` +
      `# 503s: ${stats.s503unconfirmed + stats.s503unavailable} (${stats.s503unconfirmed} written but unconfirmed, ${stats.s503unavailable} unavailable); ` +
      `fetch errors: ${stats.fetchErrors} (${[...stats.fetchErrorKinds].join('; ') || '-'}); retries: ${stats.retries} over ${retried.length} events (max ${Math.max(0, ...outcomes.map((o) => o.attempts))} attempts)\n` +
      `# subscribers: ${subs.map((s) => `${s.name}: ${s.frames().length} frames, ${s.conns.length} connection(s), closed by the gateway: ${s.gatewayCloses.join('; ') || 'never'}`).join(' | ')}`,
  );

  // --- Assertions. ---
  assert.deepEqual(stats.other, [], 'only 201 and 503 answers');
  for (const s of subs) {
    const events = s
      .frames()
      .map((f) => (JSON.parse(f) as { event: { lane?: number; seq?: number; marker?: string } }).event)
      .filter((e) => e.marker === undefined);
    const seen = new Map<string, number>();
    for (const e of events) seen.set(`${e.lane}-${e.seq}`, (seen.get(`${e.lane}-${e.seq}`) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    assert.deepEqual(twice, [], `${s.name}: events delivered more than once`);
    const missing = ok.filter((o) => !seen.has(`${o.lane}-${o.seq}`)).map((o) => o.key);
    assert.deepEqual(missing, [], `${s.name}: events answered 201 but not delivered`);
    const unknown = events.filter((e) => !outcomes.some((o) => o.lane === e.lane && o.seq === e.seq));
    assert.deepEqual(unknown, [], `${s.name}: events nobody published`);
    // Publish order within a lane (each event is sent only after the previous one's 201 or give-up).
    for (let l = 0; l < LANES; l++) {
      const seqs = events.filter((e) => e.lane === l).map((e) => e.seq!);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${s.name}: lane ${l} out of order: ${seqs[i - 1]} before ${seqs[i]}`);
    }
    // Across lanes: an event acknowledged before another was first sent precedes it in the stream.
    const byKey = new Map(outcomes.map((o) => [`${o.lane}-${o.seq}`, o]));
    const order = events.map((e) => byKey.get(`${e.lane}-${e.seq}`)!);
    let laterMinAck = Number.POSITIVE_INFINITY;
    for (let i = order.length - 1; i >= 0; i--) {
      assert.ok(laterMinAck >= order[i].firstSent, `${s.name}: ${order[i].key} was delivered before an event acknowledged before it was sent`);
      laterMinAck = Math.min(laterMinAck, order[i].acked ?? Number.POSITIVE_INFINITY);
    }
    // Strictly increasing positions, all in one epoch (a failover keeps the history).
    const positions = s.frames().map(positionOf);
    assert.equal(new Set(positions.map((p) => p.split(':')[0])).size, 1, `${s.name}: one epoch throughout`);
    const ids = positions.map((p) => p.split(':')[1].split('-').map(Number));
    for (let i = 1; i < ids.length; i++) {
      const [[pms, pseq], [ms, seq]] = [ids[i - 1], ids[i]];
      assert.ok(ms > pms || (ms === pms && seq > pseq), `${s.name}: position ${i} does not increase`);
    }
  }
  // Every subscriber received the same frames, byte for byte (the cut one: before the cut plus its resume).
  assert.deepEqual(onB.frames(), onA.frames(), 'the subscribers of the two gateways received the same frames');
  assert.deepEqual(cut.frames(), onA.frames(), 'the cut subscriber, resumed on the other gateway, received what its uninterrupted twin received');
});
