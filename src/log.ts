import { type Logger, pino } from 'pino';

/** One JSON logger per process; request-scoped lines carry `request_id` (Luna-Request-Id). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
