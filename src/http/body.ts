import type { Exchange } from './exchange.js';

export type BodyResult = { ok: true; body: Buffer } | { ok: false; tooLarge: true };

/**
 * Reads the whole request body. uWS neuters each chunk after the callback, so chunks are copied.
 * Past `limit` (or when Content-Length already says so) the rest of the body is read and
 * discarded, so the client can still read the 413 we answer with. Never resolves if the client
 * aborts: the Exchange is then marked aborted and nobody waits for an answer.
 */
export function readBody(ex: Exchange, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(ex.headers['content-length']);
    let over = Number.isFinite(declared) && declared > limit;
    let chunks: Buffer[] = [];
    let length = 0;
    ex.res.onData((chunk, isLast) => {
      if (!over) {
        const n = chunk.byteLength;
        if (length + n > limit) {
          over = true;
          chunks = [];
        } else if (n > 0) {
          chunks.push(Buffer.copyBytesFrom(new Uint8Array(chunk)));
          length += n;
        }
      }
      if (!isLast) return;
      ex.bodyPending = false;
      if (over) resolve({ ok: false, tooLarge: true });
      else resolve({ ok: true, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length) });
    });
  });
}
