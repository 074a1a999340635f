// events/: what both inputs (the publish route, the LUNA bridge) share to turn accepted input into
// bus events: ids, the span scanner, frame building and the one encoder, the LUNA message parser.
export { REQUEST_ID_RE, UUID_RE, newRequestId, checkRequestId, type RequestIdCheck } from './ids.js';
export { arrayElementSpans } from './json-spans.js';
export { buildFrame, frameTail, type FrameMeta } from './frame.js';
export { encodeBatch, type EventBatch } from './encode.js';
export { parseLunaMessage, type LunaMessage } from './luna-message.js';
export { utf8ErrorOffset, InvalidUtf8Error } from './utf8.js';
