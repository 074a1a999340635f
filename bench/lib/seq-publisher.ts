import { Agent } from 'node:http';
import { nowMs, publishBody } from '../fanout/events.js';
import { postPublish } from './post-publish.js';
import { histAdd, histQuantile, newHist } from './stats.js';

/**
 * Publisher child process for the storm benchmarks (resume-storm, drop-storm): numbered events,
 * `{"ts":<monotonic ms>,"n":<index>, …small event…}`, sent as POST /2/publish batches of `batch`
 * at `rate` events/s until told to stop. One request at a time: a batch is sent only after the
 * previous one was answered, so the stream order is the order of `n` (the subscribers check order
 * and gaps by `n` alone, on servers with and without positions). A batch that falls due while one
 * is in flight waits and is sent as soon as it can, with the time it was actually sent as its `ts`;
 * how late the publisher ran is reported (`maxLateMs`).
 * IPC: {cmd:'start', port, account, rate, batch} -> {type:'started'}
 *      {cmd:'mark'}  -> {type:'mark', next}  (the `n` of the next event to be sent)
 *      {cmd:'stop'}  -> {type:'stopped', ...SeqPublished}
 */
export interface SeqPublished {
  /** Per batch, in send order: first `n`, number of events, send time (ms, monotonic), 1 if acknowledged (201). */
  first: number[];
  count: number[];
  ts: number[];
  acked: number[];
  sentEvents: number;
  ackedEvents: number;
  failedBatches: number;
  firstError?: string;
  requestP50Ms: number;
  requestP99Ms: number;
  requestMaxMs: number;
  /** Largest delay between a batch's scheduled time and its send. */
  maxLateMs: number;
  elapsedS: number;
}

const REST =
  '"event_id":"0b7a8c3e-5d2f-4e61-9a1b-3c4d5e6f7a8b","source":"cam-12","stream_id":"8950722f-3fd4-4223-b48f-03f95f0e8dfb","tags":["entrance","vip"],"user_data":"north gate","face_attributes":{"basic_attributes":{"age":42,"gender":1,"ethnicities":{"predominant_ethnicity":"asian"}}},"location":{"city":"Moscow","area":"CAO","street":"arbat","geo_position":{"longitude":36.616,"latitude":55.752}}}';

export function seqEvent(n: number, ts: number): string {
  return `{"ts":${ts.toFixed(3)},"n":${n},${REST}`;
}

interface StartJob {
  cmd: 'start';
  port: number;
  account: string;
  rate: number;
  batch: number;
}

let running = false;
let index = 0;
let done: Promise<SeqPublished> | undefined;

function run(job: StartJob): Promise<SeqPublished> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const hist = newHist();
  const out: SeqPublished = {
    first: [],
    count: [],
    ts: [],
    acked: [],
    sentEvents: 0,
    ackedEvents: 0,
    failedBatches: 0,
    requestP50Ms: NaN,
    requestP99Ms: NaN,
    requestMaxMs: 0,
    maxLateMs: 0,
    elapsedS: 0,
  };
  const intervalMs = (job.batch / job.rate) * 1000;
  const t0 = performance.now();
  let batches = 0;
  return new Promise<SeqPublished>((resolve) => {
    const finish = () => {
      agent.destroy();
      out.requestP50Ms = histQuantile(hist, 0.5);
      out.requestP99Ms = histQuantile(hist, 0.99);
      out.elapsedS = (performance.now() - t0) / 1000;
      resolve(out);
    };
    const next = () => {
      if (!running) return finish();
      const dueAt = t0 + batches * intervalMs;
      const wait = dueAt - performance.now();
      if (wait > 0) {
        setTimeout(next, Math.min(wait, 50));
        return;
      }
      out.maxLateMs = Math.max(out.maxLateMs, -wait);
      batches++;
      const ts = nowMs();
      const first = index;
      const events: string[] = [];
      for (let k = 0; k < job.batch; k++) events.push(seqEvent(index++, ts));
      const slot = out.first.length;
      out.first.push(first);
      out.count.push(job.batch);
      out.ts.push(ts);
      out.acked.push(0);
      out.sentEvents += job.batch;
      postPublish(job.port, job.account, agent, publishBody(events), (error, ms) => {
        if (ms !== undefined) {
          histAdd(hist, ms);
          out.requestMaxMs = Math.max(out.requestMaxMs, ms);
        }
        if (error === undefined) {
          out.acked[slot] = 1;
          out.ackedEvents += job.batch;
        } else {
          out.failedBatches++;
          out.firstError ??= error;
        }
        next();
      });
    };
    next();
  });
}

process.on('message', (m: unknown) => {
  const msg = m as { cmd: string };
  switch (msg.cmd) {
    case 'ping':
      process.send!({ type: 'ready' });
      break;
    case 'start':
      running = true;
      done = run(msg as StartJob);
      process.send!({ type: 'started' });
      break;
    case 'mark':
      process.send!({ type: 'mark', next: index });
      break;
    case 'stop':
      running = false;
      (done ?? Promise.reject(new Error('not started'))).then(
        (r) => process.send!({ type: 'stopped', ...r }),
        (err: unknown) => process.send!({ type: 'error', error: String(err) }),
      );
      break;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
