import type { Auth } from './auth/index.js';
import type { Bus } from './bus/index.js';
import type { Config } from './config/index.js';
import type { OriginPolicy } from './http/origins.js';
import type { Logger } from './log.js';
import type { Metrics, Readings } from './metrics.js';
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
  /** SENDER_ALLOWED_ORIGINS, parsed once: the upgrade's origin check and the router's CORS answers. */
  readonly origins: OriginPolicy;
  /** What the scrape reads from the worker's owners (connections open, subscriptions, stream lag...). */
  readings(): Readings;
  /** The host-wide exposition text (src/host-metrics.ts). */
  scrape(): Promise<string>;
  /** Readiness (SPEC 11): `starting` until the listener opens, `draining` from shutdown on. */
  state: 'starting' | 'ready' | 'draining';
}
