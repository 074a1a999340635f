import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/**
 * Preloaded into the gateway by the soak (`node --import <this file> build/src/main.js`), so the
 * server's own event-loop delay and heap are measured without a change to src/. Every SOAK_ELD_MS
 * (10 s) it writes one line to stderr and starts a new window:
 *   soak-eld {"p50":ms,"p99":ms,"max":ms,"n":samples,"heapFloorMb":..,"heapTotalMb":..,"externalMb":..}
 * heapFloorMb is the lowest V8 used-heap size seen by a once-a-second check in the window: close
 * to the live heap after a GC, so a leak of JS objects shows there as a rising floor, while RSS
 * also moves with how much memory V8 and the allocators keep reserved.
 * Cost: one libuv timer every 10 ms (the histogram's resolution), a heap-statistics call per second
 * and a line per window. The timers are unref'd: they never keep the server alive.
 */
const windowMs = Number(process.env.SOAK_ELD_MS ?? 10000);
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const MB = 1048576;
let heapFloor = Infinity;
setInterval(() => {
  heapFloor = Math.min(heapFloor, getHeapStatistics().used_heap_size);
}, 1000).unref();
setInterval(() => {
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const mb = (b: number) => Math.round((b / MB) * 10) / 10;
  const m = process.memoryUsage();
  heapFloor = Math.min(heapFloor, m.heapUsed);
  const line = {
    p50: ms(h.percentile(50)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
    n: h.count,
    heapFloorMb: mb(heapFloor),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
  };
  process.stderr.write(`soak-eld ${JSON.stringify(line)}\n`);
  h.reset();
  heapFloor = Infinity;
}, windowMs).unref();
