import { Agent } from 'node:http';
import { publishBody } from '../fanout/events.js';
import { postPublish } from './post-publish.js';
import { BUILD, CLIENT_CPU, nodeScript, type Proc, request, start } from './procs.js';
import type { SeqPublished } from './seq-publisher.js';
import { emptyVerdict, type Verdict } from './seq-verdict.js';

/** Orchestrator side of seq-publisher.ts and seq-subscribers.ts (the storm benchmarks). */

export async function startSeqPublisher(): Promise<Proc> {
  const p = nodeScript('seq-publisher', 'bench/lib/seq-publisher.js', [], { cpu: CLIENT_CPU, ipc: true });
  await request(p, { cmd: 'ping' }, 'ready');
  return p;
}

/**
 * A subscriber process on the load-generator CPU. `nice`: at a lower priority (nice 10) than the
 * publisher and the latency probes that share that CPU, so a busy subscriber process (a resume
 * storm parses millions of frames) does not show up as the server's delay in the probes.
 */
export function startSeqSubscribers(name: string, nice = false): Proc {
  const script = `${BUILD}bench/lib/seq-subscribers.js`;
  return nice
    ? start(name, 'nice', ['-n', '10', process.execPath, script], { cpu: CLIENT_CPU, ipc: true, nofile: true })
    : start(name, process.execPath, [script], { cpu: CLIENT_CPU, ipc: true, nofile: true });
}

/** 127.0.0.1 .. 127.0.0.n: client source addresses (each has its own ephemeral port range). */
export function sourceIps(n: number): string[] {
  return Array.from({ length: Math.max(1, n) }, (_, i) => `127.0.0.${i + 1}`);
}

/** Every subscriber process answers `cmd`; their answers in order. */
export function all<T>(procs: Proc[], msg: object, reply: string, timeoutMs = 120000): Promise<T[]> {
  return Promise.all(procs.map((p) => request<T>(p, msg, reply, timeoutMs)));
}

export function sumVerdicts(vs: Verdict[]): Verdict {
  const out = emptyVerdict();
  for (const v of vs) {
    for (const k of Object.keys(out) as (keyof Verdict)[]) if (k !== 'minPct' && k !== 'gaps') out[k] += v[k];
    out.gaps.push(...v.gaps);
    out.minPct = Math.min(out.minPct, v.minPct);
  }
  return out;
}

/** The last acknowledged event's n (-1 if none). */
export function lastAcked(pub: SeqPublished): number {
  for (let b = pub.first.length - 1; b >= 0; b--) if (pub.acked[b] === 1) return pub.first[b] + pub.count[b] - 1;
  return -1;
}

export interface SubStatus {
  reached: number;
  connected: number;
  live: number;
  liveP50: number;
  liveMax: number;
  handshakeP50: number;
  handshakeMax: number;
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  refused: number;
  failedConnects: number;
  firstError?: string;
}

export function sumStatus(ss: SubStatus[]): SubStatus {
  const codes: Record<string, number> = {};
  for (const s of ss) for (const [k, v] of Object.entries(s.closeCodes)) codes[k] = (codes[k] ?? 0) + v;
  const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));
  const max = (xs: number[]) => (finite(xs).length > 0 ? Math.max(...finite(xs)) : NaN);
  return {
    reached: ss.reduce((a, s) => a + s.reached, 0),
    connected: ss.reduce((a, s) => a + s.connected, 0),
    live: ss.reduce((a, s) => a + s.live, 0),
    // The larger of the per-process medians (processes hold equal shares): an upper bound of the median.
    liveP50: max(ss.map((s) => s.liveP50)),
    liveMax: max(ss.map((s) => s.liveMax)),
    handshakeP50: max(ss.map((s) => s.handshakeP50)),
    handshakeMax: max(ss.map((s) => s.handshakeMax)),
    unexpectedCloses: ss.reduce((a, s) => a + s.unexpectedCloses, 0),
    closeCodes: codes,
    refused: ss.reduce((a, s) => a + s.refused, 0),
    failedConnects: ss.reduce((a, s) => a + s.failedConnects, 0),
    firstError: ss.find((s) => s.firstError)?.firstError,
  };
}

export function codesText(codes: Record<string, number>): string {
  const e = Object.entries(codes);
  return e.length === 0 ? '-' : e.map(([k, v]) => `${k}x${v}`).join(' ');
}

/**
 * Publishes one event (without `n`: subscribers ignore it) and waits for its 201, so the stream is
 * not empty when the subscribers connect. Kept for comparison with earlier runs: the gateway used
 * to refuse a resume from an empty stream's `<epoch>:0-0` (fixed: the window now applies to the
 * events the subscriber missed); --no-prime runs without it.
 */
export async function primeStream(port: number, account: string): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  await new Promise<void>((resolve, reject) =>
    postPublish(port, account, agent, publishBody(['{"ts":0,"prime":1}']), (error) => (error === undefined ? resolve() : reject(new Error(`prime: ${error}`)))),
  );
  agent.destroy();
}
