import type { LunaError } from '../errors.js';
import { paramValues } from '../filters/index.js';
import { unauthorized } from './grant.js';

/** Longest token accepted: far above any real one (an RS256 token with a filter is ~1 KiB). */
export const MAX_TOKEN_BYTES = 8192;
/** The subprotocol the gateway answers when a browser carries its token in the protocol list. */
export const SUBPROTOCOL = 'luna-sender';
const BEARER_PROTOCOL = 'bearer.';
const ACCESS_TOKEN = 'access_token';
/** A JWS in compact serialisation: three base64url segments (no padding); the payload may be empty. */
const JWS_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){2}$/;

/** What the request carried, copied out of it (headers by their lower-case names). */
export interface CarrierInput {
  readonly authorization: string | undefined;
  /** `Sec-WebSocket-Protocol` (upgrades only). */
  readonly protocols: string | undefined;
  /** The raw query string, without `?`. */
  readonly query: string;
}

export interface Carried {
  /** undefined: no carrier holds a token. */
  readonly token: string | undefined;
  /** The token came in the subprotocol list: the 101 answers `Sec-WebSocket-Protocol: luna-sender`. */
  readonly subprotocol: boolean;
  /** The query without `access_token`, for the filter parser and anything that logs or echoes it. */
  readonly query: string;
}

/** The query without its `access_token` parameters (names decoded as the filter parser does). */
export function withoutAccessToken(query: string): string {
  if (!query.includes('access_token') && !query.includes('%')) return query;
  return query
    .split('&')
    .filter((seg) => paramValues(seg, ACCESS_TOKEN).length === 0)
    .join('&');
}

/**
 * Finds the token in its three carriers (SPEC 10): `Authorization: Bearer`, the subprotocol list
 * (`luna-sender` and `bearer.<token>`), the `access_token` query parameter. Carriers that hold
 * different tokens, a carrier given twice, or a token over MAX_TOKEN_BYTES are 401; no detail
 * ever contains the token.
 */
export function carriedToken(input: CarrierInput): Carried | LunaError {
  const found: string[] = [];
  if (input.authorization !== undefined && input.authorization !== '') {
    const m = /^Bearer +(\S+) *$/i.exec(input.authorization);
    if (m === null) return unauthorized("Header 'Authorization' must be 'Bearer <token>'");
    found.push(m[1]);
  }
  let subprotocol = false;
  if (input.protocols !== undefined) {
    const offered = input.protocols.split(',').map((p) => p.trim());
    const bearer = offered.filter((p) => p.startsWith(BEARER_PROTOCOL));
    if (bearer.length > 1) return unauthorized("Header 'Sec-WebSocket-Protocol' holds more than one bearer. entry");
    if (bearer.length === 1) {
      // The answer must be a protocol the client offered (RFC 6455 4.1), so luna-sender must be there.
      if (!offered.includes(SUBPROTOCOL)) return unauthorized(`Header 'Sec-WebSocket-Protocol' carries a bearer. entry without '${SUBPROTOCOL}'`);
      found.push(bearer[0].slice(BEARER_PROTOCOL.length));
      subprotocol = true;
    }
  }
  const fromQuery = paramValues(input.query, ACCESS_TOKEN);
  if (fromQuery.length > 1) return unauthorized(`Query parameter '${ACCESS_TOKEN}' is given more than once`);
  if (fromQuery.length === 1) found.push(fromQuery[0]);
  const query = fromQuery.length === 0 ? input.query : withoutAccessToken(input.query);

  if (found.length === 0) return { token: undefined, subprotocol, query };
  const token = found[0];
  if (found.some((t) => t !== token)) return unauthorized('The request carries different tokens (Authorization, Sec-WebSocket-Protocol, access_token)');
  if (token.length > MAX_TOKEN_BYTES) return unauthorized(`Token is longer than ${MAX_TOKEN_BYTES} bytes`);
  if (!JWS_RE.test(token)) return unauthorized('Token is not a JSON Web Token (three base64url segments)');
  return { token, subprotocol, query };
}
