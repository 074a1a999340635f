/**
 * The HTTP side of a worker's shutdown. uWS offers no list of open HTTP connections, so the worker
 * counts requests instead: the router begins one per request and ends it once the handler settled
 * (answered, failed or aborted). Once `start` is called, every answer says `Connection: close`
 * (Exchange.send), so keep-alive clients take their next request to a worker that still listens.
 */
export class HttpDrain {
  inFlight = 0;
  draining = false;
  private lastActivity = 0;
  private wake: (() => void) | undefined;

  begin(): void {
    this.inFlight++;
    this.lastActivity = performance.now();
  }

  end(): void {
    this.inFlight--;
    this.lastActivity = performance.now();
    this.wake?.();
  }

  start(): void {
    this.draining = true;
    this.lastActivity = performance.now();
  }

  /**
   * Resolves once no request is in flight and none has begun or ended for `quietMs`, or after
   * `maxMs` whatever is still running (returns how many were). The quiet period is for connections
   * the listener accepted just before it closed: their request has not been read yet (measured:
   * with no quiet period such connections were reset at exit, a few per reload under a connect
   * loop; see docs/development.md, Shutdown).
   */
  async settled(quietMs: number, maxMs: number): Promise<number> {
    const deadline = performance.now() + maxMs;
    for (;;) {
      const now = performance.now();
      if (now >= deadline) return this.inFlight;
      const quietLeft = this.lastActivity + quietMs - now;
      if (this.inFlight === 0 && quietLeft <= 0) return 0;
      const wait = Math.min(deadline - now, this.inFlight === 0 ? quietLeft : deadline - now);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
  }
}
