import { type Logger, pino, symbols } from 'pino';

/** One JSON logger per process; request-scoped lines carry `request_id` (Luna-Request-Id). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

let exiting: Promise<never> | undefined;

interface Destination {
  write?: (chunk: string) => unknown;
  once?: (event: 'drain', cb: () => void) => unknown;
}

/**
 * Logs one fatal line as the last line of the process, then exits 1. pino writes stdout
 * asynchronously, and its fatal() flushes synchronously: with an earlier line still being written
 * in the thread pool, the fatal line would come out first (seen on Node 24). So the logger is
 * silenced (an uncaught error leaves the rest of the process running for a moment, and nothing may
 * follow the fatal line), an empty write queued behind everything logged so far, and the fatal line
 * written on its 'drain', when nothing is in flight; a stdout that never drains still gets it after
 * 1 s. A second call only waits.
 */
export function fatalExit(log: Logger, obj: object, msg: string): Promise<never> {
  if (exiting !== undefined) return exiting;
  log.level = 'silent';
  process.exitCode = 1;
  const dest = (log as unknown as Record<symbol, Destination | undefined>)[symbols.streamSym];
  exiting = new Promise<never>(() => {
    let written = false;
    const last = () => {
      if (written) return;
      written = true;
      log.level = 'fatal';
      log.fatal(obj, msg);
      process.exit(1);
    };
    setTimeout(last, 1000);
    if (typeof dest?.write !== 'function' || typeof dest.once !== 'function') return last();
    dest.once('drain', last);
    dest.write('');
  });
  return exiting;
}

export type { Logger };
