import type { BusEvent } from '../bus/index.js';
import { encodeFacts, extractFacts } from '../filters/index.js';
import { buildFrame, frameTail } from './frame.js';
import { arrayElementSpans } from './json-spans.js';
import { assertUtf8 } from './utf8.js';

/** A batch as both inputs accept it: the publish body, or one LUNA Handlers channel message. */
export interface EventBatch {
  events: object[];
  handler_id: string;
  event_create_time: string;
  event_end_time: string;
}

/**
 * The one encoder both inputs share: turns an accepted batch (`raw` already parsed into `batch`
 * and checked) into bus events, per event the frame bytes with the event's own text spliced in and
 * its msgpack facts. Done once by the producer; no worker parses or re-encodes an event.
 *
 * Throws InvalidUtf8Error when `raw` is not UTF-8: JSON.parse of `raw.toString('utf8')` silently
 * turns bad bytes into U+FFFD, so the parsed batch looks fine while the spliced bytes would make
 * every subscriber's client fail the connection. Checking here covers every input.
 */
export function encodeBatch(account: string, raw: Buffer, batch: EventBatch, requestId: string): BusEvent[] {
  assertUtf8(raw);
  const spans = arrayElementSpans(raw, 'events');
  if (spans === undefined || spans.length !== batch.events.length) throw new Error('events array not found in validated body');
  const tail = frameTail({ handlerId: batch.handler_id, createTime: batch.event_create_time, endTime: batch.event_end_time, requestId });
  return spans.map(([start, end], i) => ({
    account,
    frame: buildFrame(raw, start, end, tail),
    facts: encodeFacts(extractFacts(batch.events[i], batch.handler_id)),
  }));
}
