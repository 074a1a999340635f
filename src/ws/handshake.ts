import { Errors, LunaError } from '../errors.js';
import { checkRequestId, UUID_RE } from '../events/index.js';
import { type Filter, filterKey, paramValues, parseFilterQuery } from '../filters/index.js';
import { type Position, parseToken } from '../history/index.js';

/** What the upgrade handler copied out of uWS's HttpRequest. */
export interface HandshakeInput {
  readonly query: string;
  readonly accountHeader: string | undefined;
  readonly requestIdHeader: string | undefined;
}

export interface Handshake {
  readonly account: string;
  readonly requestId: string;
  readonly filter: Filter;
  readonly filterKey: string;
  /** `positions=1`, or implied by `resume` (SPEC 9). */
  readonly positions: boolean;
  /** `resume=<token>`: the position to replay after; checked against the bus by the upgrade. */
  readonly resume: Position | undefined;
}

export interface HandshakeLimits {
  readonly maxQueryBytes: number;
  readonly maxListItems: number;
}

const missingAccount = () => new LunaError(Errors.Forbidden, "Cannot subscribe for events without 'Luna-Account-Id' header set");

/**
 * Validates a subscription request in SPEC order (request id, account, query parameters in the
 * order given) and normalises its filter. Returns a LunaError as a value: the caller answers it as
 * a plain HTTP response, never a 101. Pure: no uWS in here, so it is unit-testable and fuzzable.
 */
export function validateHandshake(input: HandshakeInput, limits: HandshakeLimits): Handshake | LunaError {
  const rid = checkRequestId(input.requestIdHeader);
  if (rid.error !== undefined) return rid.error;
  const requestId = rid.id;

  // Account: the header wins, but a malformed query value is an error even with a valid header.
  const header = input.accountHeader === '' ? undefined : input.accountHeader;
  if (header !== undefined && !UUID_RE.test(header)) {
    return new LunaError(Errors.BadQueryOrHeader, "Bad header 'Luna-Account-Id': expected a UUID");
  }
  const fromQuery = paramValues(input.query, 'luna_account_id');
  if (fromQuery.length > 1) return new LunaError(Errors.BadQueryOrHeader, "Query parameter 'luna_account_id' is given more than once");
  const q = fromQuery[0];
  if (q !== undefined && q !== '' && !UUID_RE.test(q)) {
    return new LunaError(Errors.BadQueryOrHeader, "Bad query parameter 'luna_account_id': expected a UUID");
  }
  const accountRaw = header ?? (q === '' ? undefined : q);
  if (accountRaw === undefined && q !== '') return missingAccount();
  if (accountRaw === undefined) return new LunaError(Errors.BadQueryOrHeader, "Query parameter 'luna_account_id' is empty");

  if (Buffer.byteLength(input.query) > limits.maxQueryBytes) {
    return new LunaError(Errors.BadQueryOrHeader, `Query string is longer than ${limits.maxQueryBytes} bytes`);
  }
  const parsed = parseFilterQuery(input.query, { maxListItems: limits.maxListItems });
  if (!parsed.ok) return new LunaError(Errors.BadQueryOrHeader, parsed.detail);
  const positions = parsed.session.get('positions');
  if (positions !== undefined && positions !== '1') {
    return new LunaError(Errors.BadQueryOrHeader, "Bad query parameter 'positions': expected 1");
  }
  // Checked after every other parameter (SPEC 9): a bad filter beside it is the error reported.
  const token = parsed.session.get('resume');
  const resume = token === undefined ? undefined : parseToken(token);
  if (token !== undefined && resume === undefined) {
    return new LunaError(
      Errors.BadQueryOrHeader,
      "Bad query parameter 'resume': expected a position token '<epoch>:<ms>-<seq>' from Luna-Stream-Position or a frame's \"position\"",
    );
  }
  return {
    account: accountRaw.toLowerCase(),
    requestId,
    filter: parsed.filter,
    filterKey: filterKey(parsed.filter),
    positions: positions === '1' || resume !== undefined,
    resume,
  };
}
