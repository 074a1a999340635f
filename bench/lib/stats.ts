/**
 * Latency histogram shared by clients and the orchestrator: 10 us buckets up to 100 ms, then 1 ms
 * buckets up to 10 s (a sample beyond lands in the last bucket; the exact max is kept aside).
 * Fixed size, so clients can ship it over IPC and the orchestrator can add them up.
 */
export const FINE_US = 10;
const FINE_BUCKETS = 10_000;
const COARSE_BUCKETS = 9_900;
export const HIST_SIZE = FINE_BUCKETS + COARSE_BUCKETS;

export function newHist(): Uint32Array {
  return new Uint32Array(HIST_SIZE);
}

export function histAdd(h: Uint32Array, ms: number): void {
  if (!(ms > 0)) ms = 0;
  const us = ms * 1000;
  let i = us < FINE_BUCKETS * FINE_US ? Math.floor(us / FINE_US) : FINE_BUCKETS + Math.floor(ms - 100);
  if (i >= HIST_SIZE) i = HIST_SIZE - 1;
  h[i]++;
}

function bucketUpperMs(i: number): number {
  return i < FINE_BUCKETS ? ((i + 1) * FINE_US) / 1000 : 100 + (i - FINE_BUCKETS + 1);
}

/** The q-quantile (0..1) of a histogram, in ms (upper edge of the bucket). */
export function histQuantile(h: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < h.length; i++) total += h[i];
  if (total === 0) return NaN;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i];
    if (seen >= rank) return bucketUpperMs(i);
  }
  return bucketUpperMs(h.length - 1);
}

export function histMerge(into: Uint32Array, from: ArrayLike<number>): void {
  for (let i = 0; i < into.length; i++) into[i] += from[i] ?? 0;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
