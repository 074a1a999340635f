import { performance } from 'node:perf_hooks';
import { CloseCodes } from '../errors.js';
import type { Registry } from '../fanout/index.js';
import { compareMsSeq, type Entry, type History, positionedFrame } from '../history/index.js';
import type { Metrics } from '../metrics.js';
import type { UWS } from '../uws.js';
import { closeWith } from './close.js';
import { wanted } from './resume.js';
import type { Subscriber } from './subscriber.js';

/** Replay pauses a socket whose unsent data passes this, until uWS reports it drained. */
const HIGH_WATER = 1024 * 1024;
/** Milliseconds of replay work per event-loop turn, shared by every replaying socket. */
const SLICE_MS = 4;
/** Events one replayer handles before the scheduler looks at the clock again. */
const STEP = 64;

/**
 * One resumed socket catching up (SPEC 9): first the events it missed (those the bus returned
 * from before this worker's history, then the history from the resume position on), filtered by
 * its account and compiled filter, sent with `ws.send`; then, in the same synchronous step that
 * finds nothing more to replay, it joins its live topic. Both happen on the event loop, between
 * two bus deliveries, so nothing falls between replay and live and nothing comes twice.
 */
export class Replay {
  private cursor: number;
  private preIndex = 0;
  private readonly afterMs: number;
  private readonly afterSeq: number;
  /**
   * `run`: has work; `drain`: its backlog passed HIGH_WATER, waits for uWS's drain; `wait`: it
   * resumed at a position this worker has not delivered yet, waits for the next delivery; `done`:
   * live (or closed).
   */
  state: 'run' | 'drain' | 'wait' | 'done' = 'run';

  constructor(
    readonly ws: UWS.WebSocket<Subscriber>,
    private readonly history: History,
    private readonly registry: Registry,
    private readonly metrics: Metrics,
    /** Events from the bus itself (older than the history's floor), in order. */
    private readonly pre: readonly Entry[],
    after: { ms: number; seq: number },
  ) {
    this.afterMs = after.ms;
    this.afterSeq = after.seq;
    // `pre` holds ids up to the history's floor and the history only ids above it: no overlap.
    this.cursor = history.seqAfter(after.ms, after.seq);
  }

  /** Up to STEP events; afterwards `state` says whether there is more to do now (`run`). */
  step(): void {
    const sub = this.ws.getUserData();
    if (this.state === 'done' || sub.closed) {
      this.state = 'done';
      return;
    }
    let sent = 0;
    let bytes = 0;
    let examined = 0;
    const epoch = this.history.epoch;
    this.ws.cork(() => {
      while (examined < STEP) {
        let e: Entry | undefined;
        if (this.preIndex < this.pre.length) e = this.pre[this.preIndex++];
        else {
          if (this.cursor < this.history.start) {
            // The history dropped what this socket had still to read: it is too slow to catch up.
            this.finish();
            closeWith(this.ws, CloseCodes.SlowConsumer);
            return;
          }
          if (this.cursor >= this.history.end) {
            if (this.history.reached(this.afterMs, this.afterSeq)) this.goLive();
            else this.state = 'wait'; // resumed ahead of this worker: wait for it to get there
            return;
          }
          e = this.history.at(this.cursor++)!;
          if (compareMsSeq(e.ms, e.idSeq, this.afterMs, this.afterSeq) <= 0) continue;
        }
        examined++;
        if (!wanted(e, sub)) continue;
        const frame = positionedFrame(e, epoch);
        const r = this.ws.send(frame, false, false);
        sent++;
        bytes += frame.length;
        if (r === 2) {
          // Dropped by uWS's own backlog bound: the replay can no longer be exact.
          this.finish();
          closeWith(this.ws, CloseCodes.SlowConsumer);
          return;
        }
        if (this.ws.getBufferedAmount() > HIGH_WATER) {
          this.state = 'drain';
          return;
        }
      }
    });
    this.metrics.replayedFrames += sent;
    this.metrics.deliveries += sent;
    this.metrics.sentBytes += bytes;
  }

  private goLive(): void {
    const sub = this.ws.getUserData();
    sub.topic = this.registry.subscribe(sub.account, sub.filterKey, sub.compiled, true);
    this.ws.subscribe(sub.topic);
    this.finish();
  }

  private finish(): void {
    this.state = 'done';
    this.ws.getUserData().replay = undefined;
  }
}

/**
 * Runs every replay in slices of SLICE_MS per event-loop turn, round-robin, so that a resume
 * storm (every subscriber of a worker resuming at once) shares one budget and live delivery,
 * which the bus reader does between turns, is never held up by more than a slice.
 */
export class ReplayScheduler {
  private readonly active = new Set<Replay>();
  /** In state `drain` or `wait`. */
  private readonly parked = new Set<Replay>();
  /** The parked ones in state `wait`: looked at on every delivery, so kept apart from the draining. */
  private readonly waiting = new Set<Replay>();
  private scheduled = false;

  add(r: Replay): void {
    this.active.add(r);
    this.schedule();
  }

  /** uWS's drain for a socket: its replay may go on. */
  drained(r: Replay | undefined): void {
    if (r === undefined || r.state !== 'drain') return;
    this.wake(r);
  }

  /** A new event was delivered: replays waiting for the worker to reach their position retry. */
  delivered(): void {
    if (this.waiting.size === 0) return;
    for (const r of this.waiting) this.wake(r);
  }

  private wake(r: Replay): void {
    r.state = 'run';
    this.parked.delete(r);
    this.waiting.delete(r);
    this.active.add(r);
    this.schedule();
  }

  /** Every replay not yet live (to close them when the epoch changes). */
  all(): Replay[] {
    return [...this.active, ...this.parked];
  }

  remove(r: Replay): void {
    this.active.delete(r);
    this.parked.delete(r);
    this.waiting.delete(r);
  }

  get size(): number {
    return this.active.size + this.parked.size;
  }

  private schedule(): void {
    if (this.scheduled || this.active.size === 0) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const until = performance.now() + SLICE_MS;
    while (this.active.size > 0 && performance.now() < until) {
      for (const r of this.active) {
        r.step();
        if (r.state !== 'run') {
          this.active.delete(r);
          if (r.state !== 'done') this.parked.add(r);
          if (r.state === 'wait') this.waiting.add(r);
        }
        if (performance.now() >= until) break;
      }
    }
    this.schedule();
  }
}
