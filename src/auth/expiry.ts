/**
 * When sockets' tokens run out (SPEC 10: closed with 4001 at `exp` plus leeway), without a timer
 * per socket: items are kept in one bucket per second of expiry, and one sweep a second takes the
 * buckets that came due. Adding and removing are a Map lookup and a Set operation; a sweep costs
 * the buckets it passes (one per second) plus the items it closes. An item is never due before
 * its time (buckets round up) and at most one sweep interval after it.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** Every bucket up to this second has been taken. */
  private swept: number;

  constructor(nowMs = Date.now()) {
    this.swept = Math.floor(nowMs / 1000) - 1;
  }

  get size(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.size;
    return n;
  }

  /** `atMs`: epoch ms at which the item becomes due. Returns its bucket, which `remove` needs. */
  add(item: T, atMs: number): number {
    // Already due (or due in a second already swept): the next sweep takes it.
    const second = Math.max(Math.ceil(atMs / 1000), this.swept + 1);
    let b = this.buckets.get(second);
    if (b === undefined) {
      b = new Set();
      this.buckets.set(second, b);
    }
    b.add(item);
    return second;
  }

  /** Forgets an item before it is due (its socket closed); `bucket` is what `add` returned. */
  remove(item: T, bucket: number): void {
    const b = this.buckets.get(bucket);
    if (b === undefined) return;
    b.delete(item);
    if (b.size === 0) this.buckets.delete(bucket);
  }

  /** Takes every item due at `nowMs` and calls `due` for each (after removing them all). */
  sweep(nowMs: number, due: (item: T) => void): number {
    const upto = Math.floor(nowMs / 1000);
    const taken: T[] = [];
    if (this.buckets.size > 0) {
      for (let s = this.swept + 1; s <= upto; s++) {
        const b = this.buckets.get(s);
        if (b === undefined) continue;
        this.buckets.delete(s);
        for (const x of b) taken.push(x);
      }
    }
    this.swept = Math.max(this.swept, upto);
    for (const x of taken) due(x);
    return taken.length;
  }
}

/** The one interval (1 s) over a wheel; returns its stop function. */
export function startExpirySweep<T>(wheel: ExpiryWheel<T>, due: (item: T) => void, intervalMs = 1000): () => void {
  const timer = setInterval(() => wheel.sweep(Date.now(), due), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
