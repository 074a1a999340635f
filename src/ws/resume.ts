import type { Bus, DeliveredEvent } from '../bus/index.js';
import { Errors, LunaError } from '../errors.js';
import type { Compiled } from '../fanout/index.js';
import { type Entry, entryFacts, type History, type Position, splitId } from '../history/index.js';

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
 * current one; no event the subscriber missed (after its position, of its account, accepted by its
 * filter) may be older than SENDER_RESUME_WINDOW; a position this worker's history covers is
 * decided at once (the common case: no I/O); one past what this worker delivered is checked
 * against the bus (`ahead`, or the worker is merely behind and the replay waits for it); one older
 * than the history is read from the bus once, if the bus still holds everything after it. Never a
 * partial replay: anything else is a 410.
 *
 * Why the missed events and not the position's own time: a position stays current until the next
 * event the subscriber receives, so a quiet filter's position (a watch list that rarely matches,
 * or `0-0` on an empty stream) may be old while it missed nothing; the window bounds how far back
 * a replay reaches.
 */
export function checkResume(pos: Position, sub: Interest, rc: ResumeContext): ResumeCheck | Promise<ResumeCheck> {
  const h = rc.history;
  if (pos.epoch !== h.epoch) return refuse('epoch changed');
  if (!h.reached(pos.ms, pos.seq)) return ahead(pos, rc);
  if (!h.covers(pos.ms, pos.seq)) return fromBus(pos, sub, rc);
  const oldest = Date.now() - rc.windowMs;
  // Only the events older than the window are looked at (they come first): usually none.
  for (let seq = h.seqAfter(pos.ms, pos.seq); seq < h.end; seq++) {
    const e = h.at(seq)!;
    if (e.ms >= oldest) break;
    if (wanted(e, sub)) return tooOld();
  }
  return NONE;
}

/** What a subscriber receives: its account's events that its compiled filter accepts. */
export interface Interest {
  readonly account: string;
  readonly compiled: Compiled;
}

export function wanted(e: Entry, sub: Interest): boolean {
  if (e.account !== sub.account) return false;
  if (sub.compiled.matchesAll) return true;
  const f = entryFacts(e);
  return f !== null && sub.compiled.predicate(f);
}

const tooOld = () => refuse('position no longer retained');

async function ahead(pos: Position, rc: ResumeContext): Promise<ResumeCheck> {
  const r = await rc.bus.retained(pos.id, rc.timeoutMs);
  if (rc.history.epoch !== pos.epoch) return refuse('epoch changed');
  return r === 'ahead' ? refuse('position ahead of the stream') : NONE;
}

/** The part older than the history, read from the bus; retried if the history moved on meanwhile. */
async function fromBus(pos: Position, sub: Interest, rc: ResumeContext): Promise<ResumeCheck> {
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
    const oldest = Date.now() - rc.windowMs;
    return pre.some((e) => e.ms < oldest && wanted(e, sub)) ? tooOld() : { ok: true, pre };
  }
  return refuse('position no longer retained');
}

function toEntry(ev: DeliveredEvent): Entry {
  const [ms, idSeq] = splitId(ev.id);
  return { seq: -1, id: ev.id, ms, idSeq, account: ev.account, frame: ev.frame, facts: ev.facts };
}
