import type { DeliveredEvent } from '../bus/index.js';
import { withPosition } from '../events/index.js';
import { decodeFacts, type Facts } from '../filters/index.js';
import { compareMsSeq, formatToken, splitId } from './token.js';

/** One event as this worker delivered it, with what replay and `positions=1` need built once. */
export interface Entry {
  /** Place in this history: consecutive integers, never reused (a replay cursor is one). */
  readonly seq: number;
  readonly id: string;
  readonly ms: number;
  readonly idSeq: number;
  readonly account: string;
  readonly frame: Uint8Array;
  readonly facts: Uint8Array;
  /** Decoded facts, on first use (null: undecodable, never matches). */
  decoded?: Facts | null;
  /** The `positions=1` frame, on first use: shared by every topic and replay of this event. */
  positioned?: Buffer;
}

/** Fixed cost of an entry besides its bytes (object, array slot), for the memory bound. */
const ENTRY_OVERHEAD = 160;

export interface HistoryOptions {
  /** SENDER_RESUME_HISTORY_BYTES: frames and facts held at most. */
  readonly maxBytes: number;
}

/**
 * The bounded in-memory history of one worker (SPEC 9): every event the bus delivered here, in
 * order, as far back as the byte bound allows. Resuming subscribers replay from it,
 * all sharing one copy, so a resume storm costs no Redis read per subscriber per event; live
 * `positions=1` topics take their frames from it too. Invariant: every event of the current epoch
 * with an id above `floorId` is held, in delivery order.
 */
export class History {
  private entries: Entry[] = [];
  /** Index in `entries` of the oldest entry still held (dropped ones are compacted away in bulk). */
  private head = 0;
  private nextSeq = 0;
  private bytes = 0;
  epoch = '';
  /** Every event after this id (of `epoch`) is held. */
  floorId = '0-0';
  private floorMs = 0;
  private floorIdSeq = 0;
  /** The id of the newest event delivered (or the start position). */
  lastId = '0-0';
  private lastMs = 0;
  private lastIdSeq = 0;

  constructor(private readonly options: HistoryOptions) {}

  /** A new epoch (start, or the bus lost its history): forget everything; held from `lastId` on. */
  reset(epoch: string, lastId: string): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
    this.epoch = epoch;
    this.lastId = lastId;
    [this.lastMs, this.lastIdSeq] = splitId(lastId);
    this.setFloor(lastId);
  }

  /**
   * At start-up, before any replay exists: `events` are every event with `afterId < id <= floorId`,
   * read from the bus itself, so that a restarted worker (e.g. after `pm2 reload`) serves resumes
   * from its first second. They take the seqs below the current first one; when the byte bound
   * cannot hold them all, the newest are kept and the floor says where they begin.
   */
  prepend(events: readonly DeliveredEvent[], afterId: string): void {
    const held = this.entries.slice(this.head);
    let seq = held.length > 0 ? held[0].seq : this.nextSeq;
    const older: Entry[] = [];
    let floor = afterId;
    for (let i = events.length - 1; i >= 0; i--) {
      const ev = events[i];
      const size = ev.frame.byteLength + ev.facts.byteLength + ENTRY_OVERHEAD;
      if (this.bytes + size > this.options.maxBytes) {
        floor = ev.id;
        break;
      }
      const [ms, idSeq] = splitId(ev.id);
      older.push({ seq: --seq, id: ev.id, ms, idSeq, account: ev.account, frame: ev.frame, facts: ev.facts });
      this.bytes += size;
    }
    this.entries = [...older.reverse(), ...held];
    this.head = 0;
    this.setFloor(floor);
  }

  /** Hot path: one object per delivered event; drops what the bounds no longer allow. */
  append(ev: DeliveredEvent): Entry {
    const [ms, idSeq] = splitId(ev.id);
    const e: Entry = { seq: this.nextSeq++, id: ev.id, ms, idSeq, account: ev.account, frame: ev.frame, facts: ev.facts };
    this.entries.push(e);
    this.lastId = ev.id;
    this.lastMs = ms;
    this.lastIdSeq = idSeq;
    this.bytes += ev.frame.byteLength + ev.facts.byteLength + ENTRY_OVERHEAD;
    this.trim();
    return e;
  }

  /**
   * Drops from the head past the byte bound; compacts now and then. Not by age: a resume checks
   * the age of what it would replay itself (ws/resume.ts), and a quiet subscriber's position, old
   * but with nothing it wants after it, must stay covered.
   */
  private trim(): void {
    const max = this.options.maxBytes;
    while (this.head < this.entries.length) {
      const e = this.entries[this.head];
      if (this.bytes <= max) break;
      this.bytes -= e.frame.byteLength + e.facts.byteLength + ENTRY_OVERHEAD;
      this.head++;
      this.setFloor(e.id);
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  private setFloor(id: string): void {
    this.floorId = id;
    [this.floorMs, this.floorIdSeq] = splitId(id);
  }

  /** Whether this worker has delivered everything up to (ms, idSeq). */
  reached(ms: number, idSeq: number): boolean {
    return compareMsSeq(this.lastMs, this.lastIdSeq, ms, idSeq) >= 0;
  }

  /** Whether every event after `id` is held here. */
  covers(ms: number, idSeq: number): boolean {
    return compareMsSeq(ms, idSeq, this.floorMs, this.floorIdSeq) >= 0;
  }

  /** The first `seq` a replay of events after (ms, idSeq) starts at (binary search). */
  seqAfter(ms: number, idSeq: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid];
      if (compareMsSeq(e.ms, e.idSeq, ms, idSeq) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.entries.length ? this.entries[lo].seq : this.nextSeq;
  }

  /** The entry at `seq`, or undefined once dropped (or not yet delivered). */
  at(seq: number): Entry | undefined {
    const first = this.entries.length === this.head ? this.nextSeq : this.entries[this.head].seq;
    if (seq < first || seq >= this.nextSeq) return undefined;
    return this.entries[this.head + (seq - first)];
  }

  /** The seq the next delivered event will get: a cursor equal to it has seen everything. */
  get end(): number {
    return this.nextSeq;
  }

  /** The oldest seq still held. */
  get start(): number {
    return this.entries.length === this.head ? this.nextSeq : this.entries[this.head].seq;
  }

  get heldBytes(): number {
    return this.bytes;
  }

  get heldEvents(): number {
    return this.entries.length - this.head;
  }
}

/** The `positions=1` frame of an entry, built on first use. */
export function positionedFrame(e: Entry, epoch: string): Buffer {
  e.positioned ??= withPosition(e.frame, formatToken(epoch, e.id));
  return e.positioned;
}

/** The decoded facts of an entry, on first use; null when they cannot be decoded. */
export function entryFacts(e: Entry): Facts | null {
  if (e.decoded === undefined) {
    try {
      e.decoded = decodeFacts(e.facts);
    } catch {
      e.decoded = null;
    }
  }
  return e.decoded;
}
