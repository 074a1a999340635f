import { Errors, LunaError } from '../errors.js';

/**
 * SENDER_ALLOWED_ORIGINS (SPEC 10), parsed once at start-up. Browsers send `Origin` on every
 * WebSocket handshake and cross-origin fetch, and a page cannot forge it; non-browser clients
 * send none and are unaffected (they can claim any origin anyway, so this protects browsers'
 * users from hostile pages, nothing more).
 */
export interface OriginPolicy {
  /** `*`: every origin is allowed and CORS answers say `*`. */
  readonly any: boolean;
  /** Lower-case `scheme://host[:port]` (origins compare case-insensitively). */
  readonly allowed: ReadonlySet<string>;
}

export function parseOrigins(text: string): OriginPolicy {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return { any: items.includes('*'), allowed: new Set(items.filter((s) => s !== '*').map((s) => s.toLowerCase())) };
}

export function originAllowed(policy: OriginPolicy, origin: string): boolean {
  return policy.any || policy.allowed.has(origin.toLowerCase());
}

/** The refusal of an upgrade or preflight from an origin that is not allowed; undefined without `Origin`. */
export function originProblem(policy: OriginPolicy, origin: string | undefined): LunaError | undefined {
  if (origin === undefined || originAllowed(policy, origin)) return undefined;
  return new LunaError(Errors.Forbidden, `Origin '${origin.slice(0, 200)}' is not allowed (SENDER_ALLOWED_ORIGINS)`);
}

/** Headers every HTTP answer to an allowed origin carries; undefined without `Origin` or when it is not allowed. */
export function corsHeaders(policy: OriginPolicy, origin: string | undefined): Readonly<Record<string, string>> | undefined {
  if (origin === undefined || !originAllowed(policy, origin)) return undefined;
  return { 'Access-Control-Allow-Origin': policy.any ? '*' : origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'Luna-Request-Id' };
}

/** What a preflight allows besides the route's methods. Browsers cap the cache (Chromium: 2 h). */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, Luna-Account-Id, Luna-Request-Id, Idempotency-Key',
  'Access-Control-Max-Age': '7200',
};
