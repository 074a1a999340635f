import type { Grant } from '../auth/index.js';
import { Errors, LunaError } from '../errors.js';
import { checkRequestId, UUID_RE } from '../events/index.js';
import { allOf, type Filter, paramValues, parseFilterQuery } from '../filters/index.js';
import { type Position, parseToken } from '../history/index.js';

/** What the upgrade handler copied out of uWS's HttpRequest. */
export interface HandshakeInput {
  readonly query: string;
  readonly accountHeader: string | undefined;
  readonly requestIdHeader: string | undefined;
  /** SENDER_AUTH=jwt: what the verified token grants (the query is then without `access_token`). */
  readonly grant?: Grant;
}

export interface Handshake {
  readonly account: string;
  readonly requestId: string;
  /** The subscriber's own filter (its query). */
  readonly filter: Filter;
  /** What it receives: its own filter ANDed with its token's `filter` claim (filters/all-of.ts). */
  readonly filters: readonly Filter[];
  /** The key of `filters`; without a token filter, the key of `filter`. */
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

const otherAccount = (where: string) => new LunaError(Errors.Forbidden, `${where} names another account than the token grants`);
const missingAccount = () => new LunaError(Errors.Forbidden, "Cannot subscribe for events without 'Luna-Account-Id' header set");

/**
 * Validates a subscription request in SPEC order (request id, account, query parameters in the
 * order given; with a token: request id, then the token's account and permission, then the query)
 * and normalises its filter. Returns a LunaError as a value: the caller answers it as
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
  const g = input.grant;
  let accountRaw = header ?? (q === '' ? undefined : q);
  if (g !== undefined) {
    // The token's account is the account; one named beside it must be the same (SPEC 10).
    if (header !== undefined && header.toLowerCase() !== g.account) return otherAccount("Header 'Luna-Account-Id'");
    if (q !== undefined && q !== '' && q.toLowerCase() !== g.account) return otherAccount("Query parameter 'luna_account_id'");
    if (!g.view) return new LunaError(Errors.Forbidden, "The token does not grant 'view' on 'event' (permissions)");
    if (g.filterProblem !== undefined) return new LunaError(Errors.Forbidden, g.filterProblem);
    accountRaw = g.account;
  }
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
  const set = allOf(parsed.filter, g?.filter);
  return {
    account: accountRaw.toLowerCase(),
    requestId,
    filter: parsed.filter,
    filters: set.parts,
    filterKey: set.key,
    positions: positions === '1' || resume !== undefined,
    resume,
  };
}
