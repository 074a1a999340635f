/** What the sequence checks found for a set of subscribers (one process's, or all summed). */
export interface Verdict {
  subs: number;
  expected: number;
  delivered: number;
  missing: number;
  extra: number;
  dups: number;
  order: number;
  subsMissing: number;
  subsDup: number;
  subsOrder: number;
  minPct: number;
  connections: number;
  /** The first gaps found (subscriber: first-last n missing, of what it dropped at), for diagnosis. */
  gaps: string[];
}

/** A verdict with nothing counted yet: the start of a check, and the identity of a sum. */
export function emptyVerdict(subs = 0): Verdict {
  return {
    subs,
    expected: 0,
    delivered: 0,
    missing: 0,
    extra: 0,
    dups: 0,
    order: 0,
    subsMissing: 0,
    subsDup: 0,
    subsOrder: 0,
    minPct: 100,
    connections: 0,
    gaps: [],
  };
}
