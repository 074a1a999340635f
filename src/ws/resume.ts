import type { Bus, DeliveredEvent } from '../bus/index.js';
import { Errors, LunaError } from '../errors.js';
import { type Entry, type History, type Position, splitId } from '../history/index.js';

export interface ResumeContext {
  readonly history: History;
  readonly bus: Bus;
  /** SENDER_RESUME_WINDOW in ms. */
  readonly windowMs: number;
  /** Bound of each bus call (SENDER_REDIS_TIMEOUT). */
  readonly timeoutMs: number;
}

/** Accepted: the events to replay from the bus itself before the history (often none). */
export type ResumeCheck = { readonly ok: true; readonly pre: Entry[] } | { readonly ok: false; readonly error: LunaError };

const refuse = (why: string): ResumeCheck => ({ ok: false, error: new LunaError(Errors.CannotResume, `Cannot resume: ${why}`) });
const NONE: ResumeCheck = { ok: true, pre: [] };

/**
 * Decides a `resume=` before the 101 (SPEC 9), the same way on every worker: the epoch must be the
 * current one; the oldest event the client missed (the first after its position) must be younger
 * than SENDER_RESUME_WINDOW; a position this worker's history covers is accepted at once (the
 * common case: no I/O); one past what this worker delivered is checked against the bus (`ahead`,
 * or the worker is merely behind and the replay waits for it); one older than the history is read
 * from the bus once, if the bus still holds everything after it. Never a partial replay: anything
 * else is a 410.
 *
 * Why the first missed event and not the position's own time: a position stays current until the
 * next event, so a quiet filter's position (or `0-0` on an empty stream) may be old while nothing
 * after it is; the window is about how far back a replay reaches.
 */
export function checkResume(pos: Position, rc: ResumeContext): ResumeCheck | Promise<ResumeCheck> {
  const h = rc.history;
  if (pos.epoch !== h.epoch) return refuse('epoch changed');
  if (!h.reached(pos.ms, pos.seq)) return ahead(pos, rc);
  const oldest = Date.now() - rc.windowMs;
  if (h.covers(pos.ms, pos.seq)) {
    const first = h.at(h.seqAfter(pos.ms, pos.seq));
    return first !== undefined && first.ms < oldest ? tooOld() : NONE;
  }
  // Older than the history: the first missed event is at or before the floor, no younger than it.
  if (splitId(h.floorId)[0] < oldest) return tooOld();
  return fromBus(pos, rc);
}

const tooOld = () => refuse('position no longer retained');

async function ahead(pos: Position, rc: ResumeContext): Promise<ResumeCheck> {
  const r = await rc.bus.retained(pos.id, rc.timeoutMs);
  if (rc.history.epoch !== pos.epoch) return refuse('epoch changed');
  return r === 'ahead' ? refuse('position ahead of the stream') : NONE;
}

/** The part older than the history, read from the bus; retried if the history moved on meanwhile. */
async function fromBus(pos: Position, rc: ResumeContext): Promise<ResumeCheck> {
  const h = rc.history;
  for (let attempt = 0; attempt < 3; attempt++) {
    const upto = h.floorId;
    if ((await rc.bus.retained(pos.id, rc.timeoutMs)) !== 'retained') return refuse('position no longer retained');
    const events = await rc.bus.range(pos.id, upto, rc.timeoutMs);
    if (h.epoch !== pos.epoch) return refuse('epoch changed');
    const [uptoMs, uptoSeq] = splitId(upto);
    // The history may have dropped more while we read: then there would be a hole after `upto`.
    if (!h.covers(uptoMs, uptoSeq)) continue;
    const pre = events.map(toEntry);
    return pre.length > 0 && pre[0].ms < Date.now() - rc.windowMs ? tooOld() : { ok: true, pre };
  }
  return refuse('position no longer retained');
}

function toEntry(ev: DeliveredEvent): Entry {
  const [ms, idSeq] = splitId(ev.id);
  return { seq: -1, id: ev.id, ms, idSeq, account: ev.account, frame: ev.frame, facts: ev.facts };
}
