import { histAdd, newHist } from '../lib/stats.js';
import { connectWs, pool, type RawWs, readTs } from '../lib/ws-raw.js';
import { nowMs } from './events.js';

/**
 * Client child process: holds many WebSocket subscriptions, counts the frames each receives and
 * records the latency from the `ts` at the start of each frame (read from the raw bytes; nothing
 * is decoded). IPC commands:
 *   {cmd:'open', port, account, paths, concurrency}    -> {type:'opened', opened, failed, error?}
 *   {cmd:'reset'}                                      -> {type:'reset'}   (zero the counters)
 *   {cmd:'report'}                                     -> {type:'report', counts, hist, max, total, closed}
 *   {cmd:'total'}                                      -> {type:'total', total} (cheap poll)
 *   {cmd:'track'}                                      -> {type:'track'} (from now on, per event `ts`:
 *                                                         first and last arrival, monotonic ms)
 *   {cmd:'events'}                                     -> {type:'events', events: [ts, first, last, n][]}
 *   {cmd:'close'}                                      -> {type:'closed'} (then exits)
 */
interface OpenJob {
  cmd: 'open';
  port: number;
  /** The server's certificate (PEM) when it serves TLS: the sockets are wss. */
  ca?: string;
  account: string;
  /** One path (with query) per socket. */
  paths: string[];
  /** Per socket (same index as paths), e.g. `Authorization` (bench/handshake --auth); else none. */
  headers?: Record<string, string>[];
  concurrency: number;
  /** Client source addresses (127.0.0.x); socket k of this process binds to
   * sourceIps[(k * ipStride + ipOffset) % length], so processes share the addresses evenly. */
  sourceIps?: string[];
  /** Or destination addresses (the server listens on 0.0.0.0), chosen the same way; no bind. */
  destIps?: string[];
  ipOffset?: number;
  ipStride?: number;
}

const sockets: RawWs[] = [];
let counts = new Uint32Array(0);
let hist = newHist();
let maxMs = 0;
let total = 0;
let closedEarly = 0;
let closeCodes: Record<string, number> = {};
/** Per event ts: [first arrival, last arrival, frames] (broadcast latency; only after 'track'). */
let tracked: Map<number, [number, number, number]> | undefined;

async function open(job: OpenJob): Promise<{ opened: number; failed: number; error?: string; ms: number }> {
  const base = sockets.length;
  const grown = new Uint32Array(base + job.paths.length);
  grown.set(counts);
  counts = grown;
  let failed = 0;
  let error: string | undefined;
  const t0 = performance.now();
  await pool(job.paths.length, job.concurrency, async (k) => {
    try {
      const ips = job.sourceIps ?? [];
      const local = ips.length > 0 ? ips[(k * (job.ipStride ?? 1) + (job.ipOffset ?? 0)) % ips.length] : undefined;
      const dests = job.destIps ?? [];
      const host = dests.length > 0 ? dests[(k * (job.ipStride ?? 1) + (job.ipOffset ?? 0)) % dests.length] : undefined;
      const ws = await connectWs(job.port, job.paths[k], { 'Luna-Account-Id': job.account, ...job.headers?.[k] }, 30000, local, job.ca, host);
      const slot = base + k;
      ws.onFrame = (buf, start, end) => {
        counts[slot]++;
        total++;
        const now = nowMs();
        const ts = readTs(buf, start, end);
        const ms = now - ts;
        if (tracked !== undefined) {
          const t = tracked.get(ts);
          if (t === undefined) tracked.set(ts, [now, now, 1]);
          else {
            t[1] = now;
            t[2]++;
          }
        }
        if (ms > maxMs) maxMs = ms;
        histAdd(hist, ms);
      };
      ws.onClose = (code) => {
        closedEarly++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      };
      sockets[slot] = ws;
    } catch (err) {
      failed++;
      error ??= (err as Error).message;
    }
  });
  return { opened: job.paths.length - failed, failed, error, ms: performance.now() - t0 };
}

process.on('message', (m: unknown) => {
  const msg = m as { cmd: string };
  switch (msg.cmd) {
    case 'open':
      open(msg as OpenJob).then(
        (r) => process.send!({ type: 'opened', ...r }),
        (err: unknown) => process.send!({ type: 'error', error: String(err) }),
      );
      break;
    case 'reset':
      counts.fill(0);
      hist = newHist();
      maxMs = 0;
      total = 0;
      process.send!({ type: 'reset' });
      break;
    case 'total':
      process.send!({ type: 'total', total });
      break;
    case 'track':
      tracked = new Map();
      process.send!({ type: 'track' });
      break;
    case 'events':
      process.send!({ type: 'events', events: [...(tracked ?? new Map()).entries()].map(([ts, t]) => [ts, ...t]) });
      break;
    case 'report':
      process.send!({ type: 'report', counts: Array.from(counts), hist: Array.from(hist), max: maxMs, total, closed: closedEarly, closeCodes });
      break;
    case 'close':
      for (const ws of sockets) {
        if (ws === undefined) continue;
        ws.onClose = () => undefined;
        ws.close();
      }
      closedEarly = 0;
      closeCodes = {};
      process.send!({ type: 'closed' });
      setTimeout(() => process.exit(0), 300);
      break;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
