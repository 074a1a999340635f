/**
 * mulberry32: a small seeded PRNG, so every failure of a random test reproduces from its seed.
 * The one generator of the test suite (fuzz, span scanner, filter property tests).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** pick/some over one generator: a uniformly chosen element, and 1..max of them (with repeats). */
export function chooser(rand: () => number): { pick: <T>(xs: readonly T[]) => T; some: <T>(xs: readonly T[], max?: number) => T[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const some = <T>(xs: readonly T[], max = 3): T[] => Array.from({ length: 1 + Math.floor(rand() * max) }, () => pick(xs));
  return { pick, some };
}
