import { Agent } from 'node:http';
import { postPublish } from '../lib/post-publish.js';
import { histAdd, histQuantile, newHist } from '../lib/stats.js';
import { makeEvent, nowMs, publishBody } from './events.js';

/**
 * Publisher child process: POST /2/publish batches of `batch` events at `rate` events/s until
 * told to stop, on a schedule computed from the start time (a late timer sends what it owes).
 * At most MAX_IN_FLIGHT requests are outstanding; a batch due while that many wait is skipped and
 * counted, so the offered load is reported honestly instead of queueing without bound.
 * IPC: {cmd:'start', port, account, rate, batch} -> {type:'started'}
 *      {cmd:'sample'} -> {type:'sample', ...counters since the previous sample}
 *      {cmd:'stop'}   -> {type:'stopped'} (after the outstanding answers, bounded)
 */
interface StartJob {
  cmd: 'start';
  port: number;
  account: string;
  rate: number;
  batch: number;
}

const MAX_IN_FLIGHT = 64;

let running = false;
let inFlight = 0;
let hist = newHist();
let acked = 0;
let failed = 0;
let skipped = 0;
let firstError: string | undefined;

function start(j: StartJob): void {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const intervalMs = (j.batch / j.rate) * 1000;
  const send = () => {
    const ts = nowMs().toFixed(3);
    const events: string[] = [];
    for (let k = 0; k < j.batch; k++) events.push(makeEvent(ts));
    const body = publishBody(events);
    inFlight++;
    postPublish(j.port, j.account, agent, body, (error, ms) => {
      inFlight--;
      if (ms !== undefined) histAdd(hist, ms);
      if (error === undefined) acked += j.batch;
      else {
        failed++;
        firstError ??= error;
      }
    });
  };
  running = true;
  const t0 = performance.now();
  let batches = 0;
  const tick = () => {
    if (!running) {
      agent.destroy();
      return;
    }
    const due = Math.floor((performance.now() - t0) / intervalMs) + 1;
    // After a long stall (e.g. a stopped process), do not burst more than a second's worth.
    if (due - batches > j.rate / j.batch) {
      skipped += due - batches - Math.ceil(j.rate / j.batch);
      batches = due - Math.ceil(j.rate / j.batch);
    }
    while (batches < due) {
      batches++;
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else send();
    }
    setTimeout(tick, Math.max(1, Math.min(5, intervalMs / 2)));
  };
  tick();
}

function sample(): object {
  const out = {
    type: 'sample',
    acked,
    failed,
    skipped,
    reqP50Ms: histQuantile(hist, 0.5),
    reqP99Ms: histQuantile(hist, 0.99),
    firstError,
  };
  hist = newHist();
  acked = failed = skipped = 0;
  firstError = undefined;
  return out;
}

async function stop(): Promise<void> {
  running = false;
  const deadline = performance.now() + 10000;
  while (inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

process.on('message', (m: unknown) => {
  const msg = m as { cmd: string };
  if (msg.cmd === 'start') {
    start(msg as StartJob);
    process.send!({ type: 'started' });
  } else if (msg.cmd === 'sample') process.send!(sample());
  else if (msg.cmd === 'stop') void stop().then(() => process.send!({ type: 'stopped' }));
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
