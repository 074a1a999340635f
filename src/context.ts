import type { Auth } from './auth/index.js';
import type { Bus } from './bus/index.js';
import type { Config } from './config/index.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Plugins } from './plugins.js';

/** What the HTTP and WebSocket handlers of one worker share. Built once in worker.ts. */
export interface WorkerContext {
  readonly config: Config;
  readonly log: Logger;
  readonly bus: Bus;
  readonly metrics: Metrics;
  readonly plugins: Plugins;
  /** SENDER_AUTH=jwt: the token check of /ws and /publish; undefined with `none`. */
  readonly auth: Auth | undefined;
  /** Gauges read at scrape time (connections open, subscriptions, distinct filters, stream lag). */
  gauges(): Record<string, { help: string; value: number }>;
}
