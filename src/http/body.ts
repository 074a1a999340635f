import type { Exchange } from './exchange.js';

export type BodyResult = { ok: true; body: Buffer } | { ok: false; tooLarge: true };

/**
 * How much of a too-large body is read and discarded past the limit before the connection is cut:
 * enough for a client that writes its whole (slightly too large) body before it reads to get the
 * 413 rather than a reset; not so much that an endless chunked body can keep a worker busy.
 */
export const DISCARD_MARGIN = 1024 * 1024;

/**
 * Reads the whole request body. uWS neuters each chunk after the callback, so chunks are copied.
 *
 * Too large, two cases:
 * - Content-Length says so: when the body did not all come with the request head (then it is
 *   handled as below), resolves at once, so the 413 is answered before the body arrives
 *   (a client that waits for an answer, e.g. after `Expect: 100-continue`, reads it). The
 *   connection stays open while the body is read and discarded, so the client's writes do not
 *   meet a reset that would destroy the unread 413. When the body ends the answer is completed
 *   (with `Connection: close`); after `limit + DISCARD_MARGIN` bytes the connection is cut
 *   (Exchange.finishDiscard).
 * - The body grows past the limit (chunked, or a Content-Length that lied): discarded up to
 *   `limit + DISCARD_MARGIN`; resolves when the body ends or that budget is used up, and the
 *   answer closes the connection.
 * uWS 20.30 itself cuts a request whose Content-Length has 10 or more digits (>= 1e9): its parser
 * fails after the route handler ran and closes the socket before the corked answer is written,
 * so such a client sees a bare close whatever we do.
 *
 * Never resolves if the client aborts: the Exchange is then marked aborted and nobody waits.
 */
export function readBody(ex: Exchange, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(ex.headers['content-length']);
    const budget = limit + DISCARD_MARGIN;
    let over = Number.isFinite(declared) && declared > limit;
    let settled = false;
    let chunks: Buffer[] = [];
    let length = 0;
    let seen = 0;
    let finished = false;
    ex.res.onData((chunk, isLast) => {
      if (finished) return;
      const n = chunk.byteLength;
      seen += n;
      if (!over) {
        if (length + n > limit) {
          over = true;
          chunks = [];
        } else if (n > 0) {
          chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
          length += n;
        }
      }
      const cutOff = over && seen > budget;
      if (!isLast && !cutOff) {
        if (over && !settled && declared > limit) {
          // The first chunk (uWS hands what came with the head at once) did not end the body.
          ex.deferClose = true;
          settled = true;
          resolve({ ok: false, tooLarge: true });
        }
        return;
      }
      finished = true;
      if (!settled) {
        // A body read to its end leaves the connection clean; one cut off does not (send closes).
        if (isLast) ex.bodyPending = false;
        resolve(over ? { ok: false, tooLarge: true } : { ok: true, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length) });
        return;
      }
      // Answered before the body (declared too large), or the answer is still to come and then closes.
      ex.deferClose = false;
      if (ex.done) ex.finishDiscard(isLast);
    });
  });
}
