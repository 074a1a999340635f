import type { Compiled } from '../fanout/index.js';
import type { Filter } from '../filters/index.js';

/** Per-socket state, created in the upgrade handler (before the 101) and owned by uWS. */
export interface Subscriber {
  readonly account: string;
  readonly requestId: string;
  readonly filter: Filter;
  readonly filterKey: string;
  /** Compiled before the 101 (a filter that cannot compile is an HTTP error, never a socket). */
  readonly compiled: Compiled;
  readonly openedAt: number;
  /** Set on open; the one topic this socket is subscribed to. */
  topic: string;
  /** Set once the socket was closed by us or the peer; the socket must not be used after. */
  closed: boolean;
}
