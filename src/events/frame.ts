/**
 * The outgoing WebSocket message, built once per event by whoever accepts the event (publish
 * handler, LUNA bridge), carried as bytes through the bus, and handed unchanged to every topic:
 *   {"event": <event JSON exactly as received>, "handler_id": "...", "event-create-time": "...",
 *    "event-end-time": "...", "Luna-Request-id": "..."}
 * Separators follow the reference service (Python's json.dumps: ", " and ": "). The event bytes are
 * spliced in, never re-serialised: JSON.parse would corrupt 64-bit integers and reorder keys.
 */
const HEAD = Buffer.from('{"event": ');

export interface FrameMeta {
  readonly handlerId: string;
  readonly createTime: string;
  readonly endTime: string;
  readonly requestId: string;
}

/** The part after the event, shared by every event of one publish or LUNA message. */
export function frameTail(meta: FrameMeta): Buffer {
  return Buffer.from(
    `, "handler_id": ${JSON.stringify(meta.handlerId)}, "event-create-time": ${JSON.stringify(meta.createTime)}, ` +
      `"event-end-time": ${JSON.stringify(meta.endTime)}, "Luna-Request-id": ${JSON.stringify(meta.requestId)}}`,
  );
}

export function buildFrame(source: Buffer, start: number, end: number, tail: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEAD.length + (end - start) + tail.length);
  HEAD.copy(out, 0);
  source.copy(out, HEAD.length, start, end);
  tail.copy(out, HEAD.length + (end - start));
  return out;
}

/**
 * The frame of a `positions=1` subscriber (SPEC 9): the same bytes with one last key,
 * `, "position": "<token>"` before the closing brace. Built once per event per worker, for live
 * topics and replay alike, so a replayed frame is byte-identical to the live one.
 */
export function withPosition(frame: Uint8Array, token: string): Buffer {
  const tail = Buffer.from(`, "position": ${JSON.stringify(token)}}`);
  const out = Buffer.allocUnsafe(frame.byteLength - 1 + tail.length);
  out.set(frame.subarray(0, frame.byteLength - 1), 0);
  tail.copy(out, frame.byteLength - 1);
  return out;
}
