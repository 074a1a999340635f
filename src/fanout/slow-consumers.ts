/**
 * The slow-consumer policy (SPEC section 4): a socket whose unsent data passes
 * SENDER_MAX_BACKPRESSURE is closed (with 4008, by the `close` it is given), so that one reader that
 * stopped reading neither holds memory without bound nor delays anyone else. uWS alone would skip
 * messages silently or cut the socket off (1006) at its own bound, which sits above ours.
 *
 * Checked by a sweep every `intervalMs`, not per publish: one getBufferedAmount per open socket is
 * too much per event, and a sweep runs only when something was delivered since the last one (an
 * idle gateway does nothing). The close frame queues behind the backlog; a consumer that never
 * reads again is cut off by uWS's hard bound or idle timeout.
 */
export interface Backlogged {
  getBufferedAmount(): number;
}

export interface SlowConsumerSweepOptions<S extends Backlogged> {
  readonly sockets: ReadonlySet<S>;
  /** Bytes of unsent data above which a socket is closed. */
  readonly limit: number;
  readonly close: (socket: S) => void;
  /** A counter that moves when frames were handed to uWS for sockets (topic publishes). */
  readonly delivered: () => number;
  readonly intervalMs?: number;
}

/** One pass: closes every socket past `limit`, returns how many. */
export function sweepSlowConsumers<S extends Backlogged>(sockets: ReadonlySet<S>, limit: number, close: (socket: S) => void): number {
  let closed = 0;
  for (const ws of sockets) {
    if (ws.getBufferedAmount() > limit) {
      close(ws);
      closed++;
    }
  }
  return closed;
}

/** Starts the periodic sweep; returns its stop function. */
export function startSlowConsumerSweep<S extends Backlogged>(o: SlowConsumerSweepOptions<S>): () => void {
  let deliveredAtSweep = o.delivered();
  const timer = setInterval(() => {
    const now = o.delivered();
    if (now === deliveredAtSweep) return;
    deliveredAtSweep = now;
    sweepSlowConsumers(o.sockets, o.limit, o.close);
  }, o.intervalMs ?? 100);
  timer.unref();
  return () => clearInterval(timer);
}
