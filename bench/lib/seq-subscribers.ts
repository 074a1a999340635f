import { nowMs } from '../fanout/events.js';
import type { SeqPublished } from './seq-publisher.js';
import { emptyVerdict, type Verdict } from './seq-verdict.js';
import { connectWs, HandshakeError, headerOf, pool, type RawWs, readIntAfter, readPosition } from './ws-raw.js';

/**
 * Subscriber child process for the storm benchmarks: holds subscriptions to numbered events (see
 * seq-publisher.ts) and keeps, per subscriber, which `n` it received (a bitmap), duplicates, order
 * violations, the intervals it was connected and its last position (`positions=1`: the last
 * frame's token, else the 101's Luna-Stream-Position). Nothing is decoded: `n` is read from the raw
 * bytes at the start of the frame, the position from its end.
 *
 * IPC commands (each answered with a message of the type in brackets):
 *   open {port, account, count, query, sourceIps, concurrency}      [opened]
 *   drop                   destroy every socket, no close frame      [dropped]
 *   resume {concurrency, resume}  reconnect all at once              [resumed] (when all 101s are in)
 *   sentinel {n}           a subscriber is "live" once it has n      [sentinel]
 *   churn {periodMs, awayMs, resume}  each drops for awayMs about every periodMs, jittered  [churning]
 *   calm                   stop dropping; answered once all are connected  [calm]
 *   status {n}             how many have received n, live times      [status]
 *   verify {published, expect: 'all'|'windows'}                      [verified]
 */
const N_KEY = Buffer.from('"n":');

class Sub {
  ws: RawWs | undefined;
  lastPos = '';
  seen = new Uint8Array(1024);
  unique = 0;
  maxN = -1;
  dups = 0;
  order = 0;
  /** Connected intervals: open (101 read), close (dropped or lost); close NaN while open. */
  opens: number[] = [];
  closes: number[] = [];
  liveAt = NaN;
  /** maxN at each drop. */
  droppedAt: number[] = [];
  handshakeMs = NaN;
  connecting = false;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly index: number) {}

  add(n: number): void {
    if (n < 0) return;
    if (n >= this.seen.length) {
      let len = this.seen.length;
      while (len <= n) len *= 2;
      const g = new Uint8Array(len);
      g.set(this.seen);
      this.seen = g;
    }
    if (this.seen[n] !== 0) {
      this.dups++;
      return;
    }
    this.seen[n] = 1;
    this.unique++;
    if (n < this.maxN) this.order++;
    else this.maxN = n;
    if (sentinel >= 0 && this.maxN >= sentinel && Number.isNaN(this.liveAt)) this.liveAt = nowMs();
  }
}

interface OpenJob {
  cmd: 'open';
  port: number;
  account: string;
  count: number;
  /** Query of the first connection (and of plain reconnects), e.g. `positions=1` or ''. */
  query: string;
  sourceIps: string[];
  concurrency: number;
}

let job: OpenJob;
const subs: Sub[] = [];
let sentinel = -1;
let positions = false;
let unexpectedCloses = 0;
const closeCodes: Record<string, number> = {};
let refused = 0;
let failedConnects = 0;
let firstError: string | undefined;
let churning = false;
let churnResume = false;
let stormAt = NaN;

function path(sub: Sub, resume: boolean): string {
  if (resume && sub.lastPos !== '') return `/2/ws?resume=${encodeURIComponent(sub.lastPos)}`;
  return job.query ? `/2/ws?${job.query}` : '/2/ws';
}

/** One connection attempt: the 101 arrived, the server refused (an HTTP answer), or it failed. */
async function connect(sub: Sub, resume: boolean, timeoutMs = 30000): Promise<'ok' | 'refused' | 'failed'> {
  sub.connecting = true;
  const t0 = nowMs();
  try {
    const ip = job.sourceIps.length > 0 ? job.sourceIps[sub.index % job.sourceIps.length] : undefined;
    const ws = await connectWs(job.port, path(sub, resume), { 'Luna-Account-Id': job.account }, timeoutMs, ip);
    sub.handshakeMs = nowMs() - t0;
    const pos = headerOf(ws.head, 'luna-stream-position');
    // A resumed subscription's 101 names the resume position itself; a plain one where it starts.
    if (pos !== undefined && (positions || resume)) sub.lastPos = pos;
    sub.opens.push(nowMs());
    sub.closes.push(NaN);
    sub.ws = ws;
    ws.onFrame = (buf, start, end) => {
      sub.add(readIntAfter(buf, start, end, N_KEY));
      if (positions) {
        const p = readPosition(buf, start, end);
        if (p !== '') sub.lastPos = p;
      }
    };
    ws.onClose = (code) => {
      // Not one of ours (drop() detaches this handler first): count it and reconnect after a second.
      sub.closes[sub.closes.length - 1] = nowMs();
      sub.ws = undefined;
      unexpectedCloses++;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      sub.timer = setTimeout(() => void connectRetry(sub, churnResume), 1000);
    };
    return 'ok';
  } catch (err) {
    firstError ??= (err as Error).message;
    if (err instanceof HandshakeError) {
      refused++;
      return 'refused';
    }
    failedConnects++;
    return 'failed';
  } finally {
    sub.connecting = false;
  }
}

/**
 * Connects until it works. A refused resume (410: the server cannot replay) is counted and the
 * subscriber comes back without one, as a client would; what it lost shows up as missing.
 */
async function connectRetry(sub: Sub, resume: boolean): Promise<void> {
  let r = await connect(sub, resume);
  while (r !== 'ok') {
    if (r === 'refused') resume = false;
    await new Promise((res) => setTimeout(res, 500));
    r = await connect(sub, resume);
  }
}

function drop(sub: Sub): void {
  const ws = sub.ws;
  if (ws === undefined) return;
  ws.onClose = () => undefined;
  ws.onFrame = () => undefined;
  // No close frame: the TCP connection just goes (as on a network blip or a killed client).
  ws.socket.destroy();
  sub.droppedAt.push(sub.maxN);
  sub.closes[sub.closes.length - 1] = nowMs();
  sub.ws = undefined;
}

const jitter = (ms: number) => ms * (0.75 + 0.5 * Math.random());

function scheduleDrop(sub: Sub, periodMs: number, awayMs: number, firstMs?: number): void {
  sub.timer = setTimeout(
    () => {
      if (!churning) return;
      drop(sub);
      sub.timer = setTimeout(async () => {
        await connectRetry(sub, churnResume);
        if (churning) scheduleDrop(sub, periodMs, awayMs);
      }, awayMs);
    },
    firstMs ?? jitter(periodMs - awayMs),
  );
}

/**
 * Expected for a subscriber: every acknowledged event sent (`ts`) while it was connected
 * (`windows`: some [open, close) interval; an event in flight when it dropped counts as expected,
 * it is lost to that subscriber), or since its first connect (`all`: what a resuming subscriber
 * must have). Delivered: expected events it received; extra: received but not expected (events
 * sent just before a plain reconnect's 101 that it got anyway).
 */
function verify(pub: SeqPublished, expect: 'all' | 'windows'): Verdict {
  const v = emptyVerdict(subs.length);
  for (const s of subs) {
    let exp = 0;
    let got = 0;
    let k = 0;
    let gapStart = -1;
    let gapEnd = -1;
    let gapClosed = false;
    for (let b = 0; b < pub.first.length; b++) {
      if (pub.acked[b] !== 1) continue;
      const ts = pub.ts[b];
      let inside: boolean;
      if (expect === 'all') inside = ts >= s.opens[0];
      else {
        while (k < s.opens.length && ts >= s.closes[k]) k++;
        inside = k < s.opens.length && ts >= s.opens[k] && !(ts >= s.closes[k]);
      }
      if (!inside) continue;
      for (let n = pub.first[b]; n < pub.first[b] + pub.count[b]; n++) {
        exp++;
        if (n < s.seen.length && s.seen[n] !== 0) {
          got++;
          if (gapStart >= 0) gapClosed = true;
        } else if (gapStart < 0) gapStart = gapEnd = n;
        else if (!gapClosed && n === gapEnd + 1) gapEnd = n;
      }
    }
    v.expected += exp;
    v.delivered += got;
    v.missing += exp - got;
    v.extra += s.unique - got;
    v.dups += s.dups;
    v.order += s.order;
    if (exp > got) v.subsMissing++;
    if (s.dups > 0) v.subsDup++;
    if (s.order > 0) v.subsOrder++;
    if (exp > 0) v.minPct = Math.min(v.minPct, (got / exp) * 100);
    v.connections += s.opens.length;
    if (gapStart >= 0 && v.gaps.length < 5) v.gaps.push(`sub ${s.index}: n ${gapStart}-${gapEnd} (dropped after ${s.droppedAt.join(',')})`);
  }
  return v;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

function reply(type: string, body: object = {}): void {
  process.send!({ type, ...body });
}

async function handle(msg: { cmd: string } & Record<string, unknown>): Promise<void> {
  switch (msg.cmd) {
    case 'open': {
      job = msg as unknown as OpenJob;
      positions = /(^|&)positions=1(&|$)/.test(job.query);
      for (let i = 0; i < job.count; i++) subs.push(new Sub(i));
      const t0 = nowMs();
      await pool(subs.length, job.concurrency, (i) => connectRetry(subs[i], false));
      return reply('opened', { opened: subs.length, ms: nowMs() - t0, refused, failedConnects, firstError });
    }
    case 'drop':
      for (const s of subs) drop(s);
      return reply('dropped');
    case 'resume': {
      const resume = msg.resume !== false;
      churnResume = resume;
      stormAt = nowMs();
      const conc = Number(msg.concurrency) > 0 ? Number(msg.concurrency) : subs.length;
      await pool(subs.length, conc, (i) => connectRetry(subs[i], resume));
      return reply('resumed', { ms: nowMs() - stormAt, refused, failedConnects, firstError });
    }
    case 'sentinel': {
      sentinel = Number(msg.n);
      const now = nowMs();
      for (const s of subs) if (s.maxN >= sentinel && Number.isNaN(s.liveAt)) s.liveAt = now;
      return reply('sentinel');
    }
    case 'churn': {
      churning = true;
      churnResume = msg.resume === true;
      const period = Number(msg.periodMs);
      for (const s of subs) scheduleDrop(s, period, Number(msg.awayMs), Math.random() * period);
      return reply('churning');
    }
    case 'calm': {
      churning = false;
      for (const s of subs) clearTimeout(s.timer);
      await pool(subs.length, 64, async (i) => {
        const s = subs[i];
        while (s.connecting) await new Promise((r) => setTimeout(r, 20));
        if (s.ws === undefined) await connectRetry(s, churnResume);
      });
      return reply('calm');
    }
    case 'status': {
      const n = Number(msg.n);
      const live = subs.filter((s) => !Number.isNaN(s.liveAt)).map((s) => s.liveAt - stormAt);
      const hs = subs.map((s) => s.handshakeMs).filter((x) => !Number.isNaN(x));
      return reply('status', {
        reached: subs.filter((s) => s.maxN >= n).length,
        connected: subs.filter((s) => s.ws !== undefined).length,
        live: live.length,
        liveP50: quantile(live, 0.5),
        liveMax: live.length > 0 ? Math.max(...live) : NaN,
        handshakeP50: quantile(hs, 0.5),
        handshakeMax: hs.length > 0 ? Math.max(...hs) : NaN,
        unexpectedCloses,
        closeCodes,
        refused,
        failedConnects,
        firstError,
      });
    }
    case 'verify':
      return reply('verified', verify(msg.published as SeqPublished, msg.expect as 'all' | 'windows'));
    case 'close':
      churning = false;
      for (const s of subs) {
        clearTimeout(s.timer);
        if (s.ws) {
          s.ws.onClose = () => undefined;
          s.ws.close();
        }
      }
      reply('closed');
      setTimeout(() => process.exit(0), 300);
      return;
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (m: unknown) => {
  handle(m as { cmd: string } & Record<string, unknown>).catch((err: unknown) => reply('error', { error: String((err as Error)?.stack ?? err) }));
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
