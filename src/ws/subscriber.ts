import type { Compiled } from '../fanout/index.js';
import type { Filter } from '../filters/index.js';
import type { Entry, Position } from '../history/index.js';
import type { Replay } from './replay.js';

/** Per-socket state, created in the upgrade handler (before the 101) and owned by uWS. */
export interface Subscriber {
  readonly account: string;
  readonly requestId: string;
  /** Its own filter ANDed with its token's restriction (SPEC 10); `filterKey` is their key. */
  readonly filters: readonly Filter[];
  readonly filterKey: string;
  /** Compiled before the 101 (a filter that cannot compile is an HTTP error, never a socket). */
  readonly compiled: Compiled;
  /** Frames carry `"position"` (positions=1 or resume). */
  readonly positions: boolean;
  /** resume=: replay after this position, then live; `pre` are the events the bus returned from
   * before this worker's history (checked before the 101). */
  readonly resume: Position | undefined;
  readonly pre: Entry[];
  readonly openedAt: number;
  /** SENDER_AUTH=jwt: epoch ms of the token's `exp` plus leeway (closed with 4001 then); else Infinity. */
  readonly expiresAt: number;
  /** The expiry bucket it sits in (auth/expiry.ts), set on open when it has a token. */
  expiryBucket: number;
  /** Set on open, or when a resumed socket goes live; the one topic this socket is subscribed to. */
  topic: string;
  /** Set while a resumed socket is still catching up. */
  replay: Replay | undefined;
  /** Set once the socket was closed by us or the peer; the socket must not be used after. */
  closed: boolean;
}
