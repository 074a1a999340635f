import { type Logger, pino, symbols } from 'pino';

/** One JSON logger per process; request-scoped lines carry `request_id` (Luna-Request-Id). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

let exiting: Promise<never> | undefined;

/**
 * Logs one fatal line, then exits 1 once pino has written it. pino writes stdout asynchronously;
 * process.exit() with a write still in the thread pool lets pino's exit hook write the rest at once,
 * so the fatal line could come out before an earlier line (seen on Node 24) or that line be lost.
 * The logger is silenced after the fatal line, so it stays the last one while the write finishes
 * (an uncaught error leaves the rest of the process running meanwhile). A second call only waits.
 */
export function fatalExit(log: Logger, obj: object, msg: string): Promise<never> {
  if (exiting !== undefined) return exiting;
  log.fatal(obj, msg);
  log.level = 'silent';
  process.exitCode = 1;
  const stream = (log as unknown as Record<symbol, { once?: (event: 'drain', cb: () => void) => void }>)[symbols.streamSym];
  exiting = new Promise<never>(() => {
    const exit = () => process.exit(1);
    // Every write ends in 'drain' once nothing is left to write. A stdout that never drains
    // (a stuck pipe) still ends the process: pino's exit hook then writes synchronously.
    if (typeof stream?.once === 'function') stream.once('drain', exit);
    else exit();
    setTimeout(exit, 1000);
  });
  return exiting;
}

export type { Logger };
