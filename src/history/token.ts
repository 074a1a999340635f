/**
 * Position tokens (SPEC 9): `<epoch>:<id>`, the id a stream entry id `<ms>-<seq>`. Clients treat
 * them as opaque; the gateway parses them once per resume, never per event.
 */
export const TOKEN_RE = /^([A-Za-z0-9_-]{1,64}):([0-9]{1,20})-([0-9]{1,20})$/;

export interface Position {
  readonly epoch: string;
  readonly id: string;
  readonly ms: number;
  readonly seq: number;
}

export function parseToken(token: string): Position | undefined {
  const m = TOKEN_RE.exec(token);
  if (m === null) return undefined;
  const ms = Number(m[2]);
  const seq = Number(m[3]);
  // Past 2^53 the numbers are not exact; no stream id gets there (ms since 1970, per-ms counters).
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) return undefined;
  return { epoch: m[1], id: `${ms}-${seq}`, ms, seq };
}

export function formatToken(epoch: string, id: string): string {
  return `${epoch}:${id}`;
}

/** `<ms>-<seq>` as two numbers (ids the bus produced: always well-formed). */
export function splitId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** Numeric order of two ids given as (ms, seq) pairs. */
export function compareMsSeq(ams: number, aseq: number, bms: number, bseq: number): number {
  return ams !== bms ? ams - bms : aseq - bseq;
}
