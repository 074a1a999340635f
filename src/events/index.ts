// events/: what both inputs (the publish route, the LUNA bridge) share to turn accepted input into
// bus events: ids, the span scanner, frame building and the one encoder, the LUNA message parser.

export { type EventBatch, encodeBatch } from './encode.js';
export { buildFrame, type FrameMeta, frameTail, withPosition } from './frame.js';
export { checkRequestId, newRequestId, REQUEST_ID_RE, type RequestIdCheck, UUID_RE } from './ids.js';
export { arrayElementSpans } from './json-spans.js';
export { type LunaMessage, parseLunaMessage } from './luna-message.js';
export { InvalidUtf8Error, utf8ErrorOffset } from './utf8.js';
