import { slope } from '../lib/stats.js';

/**
 * The growth verdict. Only the second half of the run is fitted: the first half holds the warm-up
 * (JIT, V8 heap and allocator arenas growing to their working size, the Redis stream filling up to
 * its cap), which is growth a soak must not mistake for a leak.
 */
export interface Trend {
  /** Least-squares slope over the second half, units per minute. */
  slopePerMin: number;
  /** Mean over the second half. */
  mean: number;
  /** |slope| x run length, the growth the fitted line implies over the whole run. */
  impliedGrowth: number;
  /** The allowed implied growth. */
  limit: number;
  ok: boolean;
}

/**
 * x in minutes; the fit uses the samples with x >= half of the run. `twoSided`: a falling line
 * fails too (RSS: memory still being released is not a steady state); otherwise only growth fails.
 */
export function trend(xsMin: number[], ys: number[], runMin: number, limitOf: (mean: number) => number, twoSided: boolean): Trend {
  const xs: number[] = [];
  const vs: number[] = [];
  for (let i = 0; i < xsMin.length; i++) {
    if (xsMin[i] >= runMin / 2 && Number.isFinite(ys[i])) {
      xs.push(xsMin[i]);
      vs.push(ys[i]);
    }
  }
  const s = xs.length >= 3 ? slope(xs, vs) : NaN;
  const mean = vs.length > 0 ? vs.reduce((a, b) => a + b, 0) / vs.length : NaN;
  const impliedGrowth = Math.abs(s) * runMin;
  const limit = limitOf(mean);
  const ok = Number.isFinite(s) && (twoSided ? impliedGrowth < limit : s * runMin < limit);
  return { slopePerMin: s, mean, impliedGrowth, limit, ok };
}

/** RSS: no growth trend when |slope| x run length < 5% of the mean RSS (second half). */
export const RSS_RULE = '|RSS slope (2nd half)| x run length < 5% of mean RSS (2nd half)';
export const rssLimit = (mean: number) => 0.05 * mean;

/**
 * Latencies: no growth trend when slope x run length < max(25% of the mean, 5 ms). Looser than
 * RSS because latency on a shared 2-core machine moves with the neighbours' load, and the 5 ms floor
 * keeps sub-millisecond means from failing on scheduler jitter.
 */
export const LATENCY_RULE = 'p99 slope (2nd half) x run length < max(25% of mean p99, 5 ms) (falling latency passes)';
export const latencyLimit = (mean: number) => Math.max(0.25 * mean, 5);
