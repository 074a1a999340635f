import { histAdd, newHist } from '../lib/stats.js';
import { connectWs, pool, type RawWs, readTs } from '../lib/ws-raw.js';
import { nowMs, randomQuery, wsPath } from './events.js';

/**
 * Subscriber child process: holds `n` WebSocket subscriptions and churns them. Every second it
 * closes `churn` random sockets (a normal 1000 close) and opens as many new ones with a random
 * filter from the mix, so the server keeps accepting, compiling, registering and tearing down.
 * Frames are counted and their latency read from the raw `ts` (nothing is decoded).
 * IPC: {cmd:'start', port, account, n, churn} -> {type:'started', opened, failed, error?}
 *      {cmd:'sample'} -> {type:'sample', ...counters since the previous sample}
 *      {cmd:'stop'}   -> {type:'stopped'} (closes every socket, stops churning)
 */
interface StartJob {
  cmd: 'start';
  port: number;
  account: string;
  n: number;
  churn: number;
}

/** Churn opens in flight beyond this are skipped (and counted), so a stalled server cannot pile up sockets. */
const MAX_PENDING_OPENS_FACTOR = 4;

const held: RawWs[] = [];
/** Sockets we are closing on purpose: their close is not an error. */
const leaving = new WeakSet<RawWs>();
let churnTimer: NodeJS.Timeout | undefined;
let pendingOpens = 0;
let stopping = false;

// Counters since the previous sample.
let hist = newHist();
let frames = 0;
let maxMs = 0;
let opened = 0;
let closedByUs = 0;
let openFailed = 0;
let churnSkipped = 0;
let unexpected = 0;
let unexpectedCodes: Record<string, number> = {};
let firstError: string | undefined;

function onFrame(buf: Buffer, start: number, end: number): void {
  frames++;
  const ms = nowMs() - readTs(buf, start, end);
  if (ms > maxMs) maxMs = ms;
  histAdd(hist, ms);
}

async function openOne(j: StartJob): Promise<boolean> {
  try {
    const ws = await connectWs(j.port, wsPath(randomQuery()), { 'Luna-Account-Id': j.account });
    if (stopping) {
      ws.close();
      return false;
    }
    ws.onFrame = onFrame;
    ws.onClose = (code) => {
      const i = held.indexOf(ws);
      if (i >= 0) held.splice(i, 1);
      if (leaving.has(ws) || stopping) return;
      unexpected++;
      unexpectedCodes[code] = (unexpectedCodes[code] ?? 0) + 1;
    };
    held.push(ws);
    opened++;
    return true;
  } catch (err) {
    openFailed++;
    firstError ??= (err as Error).message;
    return false;
  }
}

function closeOne(): void {
  if (held.length === 0) return;
  const i = Math.floor(Math.random() * held.length);
  const ws = held[i];
  held[i] = held[held.length - 1];
  held.pop();
  leaving.add(ws);
  ws.close();
  closedByUs++;
}

function churnTick(j: StartJob): void {
  for (let k = 0; k < j.churn; k++) closeOne();
  // Top up to n (also replaces sockets the server closed), within the pending-open bound.
  const want = j.n - held.length - pendingOpens;
  for (let k = 0; k < want; k++) {
    if (pendingOpens >= Math.max(1, j.churn) * MAX_PENDING_OPENS_FACTOR) {
      churnSkipped += want - k;
      break;
    }
    pendingOpens++;
    void openOne(j).finally(() => pendingOpens--);
  }
}

async function start(j: StartJob): Promise<{ opened: number; failed: number; error?: string }> {
  const ok = await pool(j.n, 32, () => openOne(j));
  const good = ok.filter(Boolean).length;
  churnTimer = setInterval(() => churnTick(j), 1000);
  return { opened: good, failed: j.n - good, error: firstError };
}

function sample(): object {
  // Sparse histogram: [bucket, count] pairs; the orchestrator adds the clients' up.
  const sparse: number[] = [];
  for (let i = 0; i < hist.length; i++) if (hist[i] !== 0) sparse.push(i, hist[i]);
  const out = {
    type: 'sample',
    held: held.length,
    frames,
    maxMs,
    hist: sparse,
    opened,
    closedByUs,
    openFailed,
    churnSkipped,
    unexpected,
    unexpectedCodes,
    firstError,
  };
  hist = newHist();
  frames = maxMs = opened = closedByUs = openFailed = churnSkipped = unexpected = 0;
  unexpectedCodes = {};
  firstError = undefined;
  return out;
}

function stop(): void {
  stopping = true;
  if (churnTimer) clearInterval(churnTimer);
  for (const ws of held.splice(0)) {
    leaving.add(ws);
    ws.close();
  }
}

process.on('message', (m: unknown) => {
  const msg = m as { cmd: string };
  if (msg.cmd === 'start')
    start(msg as StartJob).then(
      (r) => process.send!({ type: 'started', ...r }),
      (err: unknown) => process.send!({ type: 'error', error: String(err) }),
    );
  else if (msg.cmd === 'sample') process.send!(sample());
  else if (msg.cmd === 'stop') {
    stop();
    process.send!({ type: 'stopped' });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
