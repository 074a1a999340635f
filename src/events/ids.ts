import { randomUUID } from 'node:crypto';
import { Errors, LunaError } from '../errors.js';

/** SPEC section 3: `{unix seconds},{uuid4}`, lower-case hex. */
export const REQUEST_ID_RE = /^[0-9]{10},[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
/** The one UUID pattern (accounts, handler and stream ids): any case; compared lower-cased. */
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function newRequestId(): string {
  return `${Math.floor(Date.now() / 1000)},${randomUUID()}`;
}

export interface RequestIdCheck {
  /** The id every answer carries: the client's own when valid, else a new one. */
  readonly id: string;
  /** Set when the client sent a malformed id: the first error of SPEC's order. */
  readonly error: LunaError | undefined;
}

/** The one request-id validator, for HTTP requests and WebSocket upgrades alike. */
export function checkRequestId(given: string | undefined): RequestIdCheck {
  if (given === undefined) return { id: newRequestId(), error: undefined };
  if (REQUEST_ID_RE.test(given)) return { id: given, error: undefined };
  return {
    id: newRequestId(),
    error: new LunaError(Errors.BadQueryOrHeader, `Bad header 'Luna-Request-Id': expected '{unix seconds},{uuid4}' matching ${REQUEST_ID_RE.source}`),
  };
}
