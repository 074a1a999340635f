import { Errors, LunaError } from '../errors.js';
import { UUID_RE } from '../events/ids.js';
import { type Filter, parseFilterQuery, type QueryLimits } from '../filters/index.js';

/** What a verified token grants (SPEC 10). */
export interface Grant {
  /** `account_id`, lower case. */
  readonly account: string;
  /** `permissions.event` holds `view` (subscribe) / `creation` (publish). */
  readonly view: boolean;
  readonly creation: boolean;
  /** The `filter` claim, normalised; ANDed with the subscriber's own filter. */
  readonly filter: Filter | undefined;
  /** Why the `filter` claim cannot be used (403 when the token is used to subscribe). */
  readonly filterProblem: string | undefined;
  /** Epoch ms after which the token is no longer accepted: `exp` plus the leeway. */
  readonly expiresAt: number;
}

export const unauthorized = (detail: string) => new LunaError(Errors.Unauthorized, detail);

/**
 * The claims of a token whose signature and registered claims fast-jwt already checked, turned into a
 * Grant. Claims that make it no token of ours are 401 (a missing or malformed `account_id` or
 * `permissions`); a filter claim that cannot be used is recorded for the 403 of a subscription.
 */
export function grantOf(payload: Record<string, unknown>, leewayS: number, limits: QueryLimits): Grant | LunaError {
  const { account_id: account, permissions, filter, exp } = payload;
  if (typeof account !== 'string' || !UUID_RE.test(account)) return unauthorized("Token claim 'account_id' must be a UUID");
  const event = typeof permissions === 'object' && permissions !== null ? (permissions as Record<string, unknown>).event : undefined;
  if (!Array.isArray(event) || !event.every((p) => typeof p === 'string')) {
    return unauthorized('Token claim \'permissions\' must be an object like {"event": ["view", "creation"]}');
  }
  let parsed: Filter | undefined;
  let filterProblem: string | undefined;
  if (filter !== undefined) {
    if (typeof filter !== 'string') filterProblem = "Token claim 'filter' must be a string in the /ws query syntax";
    else {
      const r = parseFilterQuery(filter, limits);
      if (!r.ok) filterProblem = `Token claim 'filter' cannot be used: ${r.detail}`;
      else if (r.session.size > 0) filterProblem = `Token claim 'filter' cannot be used: it may hold filters only, not ${[...r.session.keys()].join(', ')}`;
      else parsed = r.filter;
    }
  }
  return {
    account: account.toLowerCase(),
    view: event.includes('view'),
    creation: event.includes('creation'),
    filter: parsed,
    filterProblem,
    expiresAt: ((exp as number) + leewayS) * 1000,
  };
}
