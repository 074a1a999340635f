import { isUtf8 } from 'node:buffer';
import { UUID_RE } from '../events/ids.js';
import { scanUtf8 } from '../events/utf8.js';
import { encodeFacts, extractFacts } from '../filters/index.js';
import type { DeliveredEvent } from './bus.js';

/**
 * The stream entry format (README: "Writing to the stream directly").
 *
 * One entry per event, appended with `XADD <SENDER_STREAM_KEY> MAXLEN ~ <SENDER_STREAM_MAXLEN> *`
 * and these fields (one-letter names: they are repeated in every entry):
 *
 * | field | value |
 * |---|---|
 * | `a` | account id, lower-case UUID text (`6d9e...-...`); upper case is accepted and lower-cased |
 * | `f` | the complete WebSocket text frame subscribers receive, UTF-8 JSON:
 *         `{"event": {...}, "handler_id": "...", "event-create-time": "...", "event-end-time": "...", "Luna-Request-id": "..."}` |
 * | `p` | optional: the event's filter facts, msgpack (src/filters/facts.ts). Without it the worker
 *         parses `f` once per entry to compute them, which is what a third-party producer should rely on |
 * | `e` | optional: the epoch (SPEC section 9) the entry was written in, the value of the key
 *         `<SENDER_STREAM_KEY>:epoch` (redis-epoch.ts); the gateway's publisher always writes it. An
 *         entry naming a new epoch makes readers change epoch before delivering it; an entry without
 *         `e` belongs to the current epoch, which is what a third-party producer should rely on |
 *
 * Other fields are ignored (room for later additions). The order of entries is the delivery order.
 *
 * Why this shape: a worker reads entries as Buffers (`XREAD` with buffer replies), compares `a`
 * with its subscribed accounts without touching `f` or `p`, and hands the bytes of `f` to
 * uWebSockets.js unchanged. The producer builds the frame once; no worker parses or re-encodes it.
 *
 * A malformed entry (no `a` or `f`, `a` not a UUID, `f` not UTF-8 (a text frame that is not UTF-8
 * makes every client fail its connection), `f` not a JSON object text, or, without `p`,
 * `f` not parseable into an event and handler id) is skipped and counted, never thrown.
 */
// Field names and JSON delimiters as bytes.
const A = 0x61; // a
const F = 0x66; // f
const P = 0x70; // p
const E = 0x65; // e
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;

/**
 * One entry's field list (`[name, value, name, value, ...]` as Buffers) to a BusEvent, or a short
 * reason string when it is malformed. Hot path: one pass over the fields, no copy of `f` or `p`;
 * JSON is parsed only for an entry without `p`.
 */
export function decodeEntry(id: string, fields: readonly Buffer[]): DeliveredEvent | string {
  let a: Buffer | undefined;
  let f: Buffer | undefined;
  let p: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name.length !== 1) continue;
    const c = name[0];
    if (c === A) a = fields[i + 1];
    else if (c === F) f = fields[i + 1];
    else if (c === P) p = fields[i + 1];
  }
  if (a === undefined) return 'missing field a';
  if (f === undefined) return 'missing field f';
  const text = a.toString('latin1');
  if (!UUID_RE.test(text)) return 'field a is not a UUID';
  const account = text.toLowerCase();
  if (f.length < 2 || f[0] !== OPEN_OBJ || f[f.length - 1] !== CLOSE_OBJ) return 'field f is not a JSON object';
  // Native (simdutf) check per entry; the scan for the offset runs only on the error path.
  if (!isUtf8(f)) return `field f is not valid UTF-8 (bad byte sequence at byte offset ${scanUtf8(f)})`;
  if (p !== undefined && p.length > 0) return { id, account, frame: f, facts: p };
  return factsFromFrame(id, account, f);
}

/** The `e` field of an entry (its epoch), or undefined. A second pass over a few fields: only Buffers compared. */
export function entryEpoch(fields: readonly Buffer[]): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name.length === 1 && name[0] === E) return fields[i + 1];
  }
  return undefined;
}

/** The slow path for producers that leave out `p`: parse the frame once and extract the facts. */
function factsFromFrame(id: string, account: string, frame: Buffer): DeliveredEvent | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.toString('utf8'));
  } catch {
    return 'field f is not valid JSON';
  }
  const msg = parsed as { event?: unknown; handler_id?: unknown };
  if (typeof msg.event !== 'object' || msg.event === null || Array.isArray(msg.event)) return 'field f has no "event" object';
  if (typeof msg.handler_id !== 'string') return 'field f has no "handler_id" string';
  try {
    return { id, account, frame, facts: encodeFacts(extractFacts(msg.event, msg.handler_id)) };
  } catch (err) {
    return `facts: ${(err as Error).message}`;
  }
}
