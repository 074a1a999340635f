import type { UWS } from '../uws.js';
import type { Subscriber } from './subscriber.js';

/** The open sockets of one worker (uWS calls `open` from inside `res.upgrade`, so it is exact). */
export type SocketSet = Set<UWS.WebSocket<Subscriber>>;

/** Closes a socket with one of the close codes of src/errors.ts; a second call does nothing. */
export function closeWith(ws: UWS.WebSocket<Subscriber>, c: { code: number; reason: string }): void {
  const sub = ws.getUserData();
  if (sub.closed) return;
  sub.closed = true;
  // Nothing more may pile up behind the close frame, or uWS's hard backpressure bound would cut the
  // socket off abruptly (1006) before the client reads our code.
  if (sub.topic !== '') ws.unsubscribe(sub.topic);
  ws.end(c.code, c.reason);
}
