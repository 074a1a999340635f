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
}

const sockets: RawWs[] = [];
let counts = new Uint32Array(0);
let hist = newHist();
let maxMs = 0;
let total = 0;
let closedEarly = 0;
let closeCodes: Record<string, number> = {};

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
      const ws = await connectWs(job.port, job.paths[k], { 'Luna-Account-Id': job.account, ...job.headers?.[k] }, 10000, undefined, job.ca);
      const slot = base + k;
      ws.onFrame = (buf, start, end) => {
        counts[slot]++;
        total++;
        const ms = nowMs() - readTs(buf, start, end);
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
