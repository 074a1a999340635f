import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { postPublish } from '../lib/post-publish.js';
import { histAdd, histQuantile, newHist } from '../lib/stats.js';
import { EventMaker, FILTER_MIX, nowMs, type PayloadKind, publishBody } from './events.js';

/**
 * Publisher child process: sends `rate` events/s as POST /2/publish batches of `batch` events for
 * `seconds`, on a schedule computed from the start time (a late timer sends the batches it owes).
 * At most MAX_IN_FLIGHT requests are outstanding; a batch due while that many are waiting is not
 * sent and is counted as `skipped` (so the offered load is reported honestly, and the expected
 * deliveries only count events the server acknowledged with 201).
 * IPC: {cmd:'run', ...} -> {type:'done', ...}.
 */
export interface PublishJob {
  cmd: 'run';
  port: number;
  /** The server's certificate (PEM) when it serves TLS: publish over https. */
  ca?: string;
  account: string;
  rate: number;
  batch: number;
  seconds: number;
  kind: PayloadKind;
  /** First event index (attributes are a function of it). */
  firstIndex: number;
  /** Filter classes in FILTER_MIX order to count expected matches for; or age ranges. */
  ageRanges?: [number, number][];
  /** `Bearer <token>` for a SENDER_AUTH=jwt server (product-jwt). */
  authorization?: string;
}

export interface PublishResult {
  type: 'done';
  sentEvents: number;
  ackedEvents: number;
  failedBatches: number;
  skippedBatches: number;
  nextIndex: number;
  /** Matching acknowledged events per FILTER_MIX class. */
  expectedPerClass: number[];
  /** Per age range given in the job: matching acknowledged events. */
  expectedPerRange: number[];
  requestP50Ms: number;
  requestP99Ms: number;
  elapsedS: number;
  firstError?: string;
}

const MAX_IN_FLIGHT = 64;

async function run(job: PublishJob): Promise<PublishResult> {
  const maker = new EventMaker(job.kind);
  const agent = job.ca === undefined ? new Agent({ keepAlive: true, maxSockets: 16 }) : new HttpsAgent({ keepAlive: true, maxSockets: 16, ca: job.ca });
  const hist = newHist();
  const total = Math.max(1, Math.floor((job.rate * job.seconds) / job.batch));
  const intervalMs = (job.batch / job.rate) * 1000;
  const expectedPerClass = FILTER_MIX.map(() => 0);
  const ranges = job.ageRanges ?? [];
  const expectedPerRange = ranges.map(() => 0);
  let index = job.firstIndex;
  let sentEvents = 0;
  let ackedEvents = 0;
  let failedBatches = 0;
  let skippedBatches = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  const acked = (first: number, n: number) => {
    ackedEvents += n;
    for (let i = first; i < first + n; i++) {
      for (let c = 0; c < FILTER_MIX.length; c++) if (FILTER_MIX[c].matches(i)) expectedPerClass[c]++;
      if (ranges.length > 0) {
        const a = 10 + ((i * 7) % 80);
        for (let r = 0; r < ranges.length; r++) if (a >= ranges[r][0] && a < ranges[r][1]) expectedPerRange[r]++;
      }
    }
  };
  const send = () => {
    const first = index;
    const ts = nowMs();
    const events: string[] = [];
    for (let k = 0; k < job.batch; k++) events.push(maker.make(index++, ts));
    const body = publishBody(events);
    sentEvents += job.batch;
    inFlight++;
    postPublish(
      job.port,
      job.account,
      agent,
      body,
      (error, ms) => {
        inFlight--;
        if (ms !== undefined) histAdd(hist, ms);
        if (error === undefined) acked(first, job.batch);
        else {
          failedBatches++;
          firstError ??= error;
        }
      },
      job.ca,
      job.authorization,
    );
  };

  const t0 = performance.now();
  let batches = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / intervalMs) + 1);
      while (batches < due) {
        batches++;
        if (inFlight >= MAX_IN_FLIGHT) {
          skippedBatches++;
          index += job.batch;
          continue;
        }
        send();
      }
      if (batches < total) setTimeout(tick, Math.max(0, Math.min(1, intervalMs - 0.5)));
      else resolve();
    };
    tick();
  });
  // Wait for the outstanding answers (bounded).
  const deadline = performance.now() + 15000;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  agent.destroy();
  return {
    type: 'done',
    sentEvents,
    ackedEvents,
    failedBatches,
    skippedBatches,
    nextIndex: index,
    expectedPerClass,
    expectedPerRange,
    requestP50Ms: histQuantile(hist, 0.5),
    requestP99Ms: histQuantile(hist, 0.99),
    elapsedS: (performance.now() - t0) / 1000,
    firstError,
  };
}

process.on('message', (m: unknown) => {
  const job = m as PublishJob | { cmd: 'exit' };
  if (job.cmd === 'exit') process.exit(0);
  if (job.cmd === 'run')
    run(job).then(
      (r) => process.send!(r),
      (err: unknown) => process.send!({ type: 'error', error: String((err as Error)?.stack ?? err) }),
    );
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
process.on('message', (m: unknown) => {
  if ((m as { cmd?: string }).cmd === 'ping') process.send!({ type: 'ready' });
});
