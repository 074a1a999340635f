import type { EventBatch } from './encode.js';
import { newRequestId, REQUEST_ID_RE, UUID_RE } from './ids.js';

/** One LUNA Handlers channel message (SPEC section 1), checked, ready for `encodeBatch`. */
export interface LunaMessage {
  account: string;
  batch: EventBatch;
  requestId: string;
}

/** Checks one message of channel `{prefix}{account_id}`; a string is the reason it is malformed. */
export function parseLunaMessage(prefix: string, channel: string, raw: Buffer): LunaMessage | string {
  if (!channel.startsWith(prefix)) return `channel '${channel}' does not start with '${prefix}'`;
  const account = channel.slice(prefix.length);
  if (!UUID_RE.test(account)) return `account '${account}' in channel '${channel}' is not a UUID`;
  let msg: unknown;
  try {
    msg = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return 'not a JSON object';
  const m = msg as Record<string, unknown>;
  if (typeof m.handler_id !== 'string') return "'handler_id' is missing or not a string";
  if (typeof m.event_create_time !== 'string') return "'event_create_time' is missing or not a string";
  if (typeof m.event_end_time !== 'string') return "'event_end_time' is missing or not a string";
  const events = m.events;
  if (!Array.isArray(events) || events.length === 0) return "'events' is not a non-empty list";
  for (const ev of events) {
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) return "'events' holds something that is not an object";
  }
  let requestId = m['Luna-Request-Id'];
  if (requestId === undefined || requestId === null) requestId = newRequestId();
  else if (typeof requestId !== 'string' || !REQUEST_ID_RE.test(requestId)) return "'Luna-Request-Id' is not '{unix seconds},{uuid4}'";
  return {
    account: account.toLowerCase(),
    batch: { events: events as object[], handler_id: m.handler_id, event_create_time: m.event_create_time, event_end_time: m.event_end_time },
    requestId: requestId as string,
  };
}
