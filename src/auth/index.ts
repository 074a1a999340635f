import type { Config } from '../config/index.js';
import type { LunaError } from '../errors.js';
import { type Carried, type CarrierInput, carriedToken } from './carriers.js';
import { type Grant, unauthorized } from './grant.js';
import { loadKeys } from './keys.js';
import { Verifier } from './verify.js';

// auth/: SENDER_AUTH=jwt (SPEC 10): keys, token carriers, verification, what a token grants, expiry.
export { type Carried, type CarrierInput, carriedToken, MAX_TOKEN_BYTES, SUBPROTOCOL, withoutAccessToken } from './carriers.js';
export { ExpiryWheel, startExpirySweep } from './expiry.js';
export type { Grant } from './grant.js';
export { loadKeys, type VerifyKey } from './keys.js';
export { Verifier } from './verify.js';

/** What a request's token, when one is required, resolved to. */
export interface Authenticated {
  readonly grant: Grant;
  readonly carried: Carried;
}

/** The worker's token check; undefined with SENDER_AUTH=none (nothing is asked, as in LP5). */
export interface Auth {
  /** A 401 value for no token or a bad one; synchronous when the token is cached. */
  authenticate(input: CarrierInput): Authenticated | LunaError | Promise<Authenticated | LunaError>;
}

/** Reads the keys (a problem throws ConfigError: the worker does not start). */
export function createAuth(config: Config): Auth | undefined {
  if (config.SENDER_AUTH === 'none') return undefined;
  const verifier = new Verifier({
    keys: loadKeys(config.SENDER_AUTH_HMAC_SECRETS, config.SENDER_AUTH_PUBLIC_KEYS),
    leewayS: config.SENDER_AUTH_LEEWAY,
    audience: config.SENDER_AUTH_AUDIENCE,
    issuer: config.SENDER_AUTH_ISSUER,
    limits: { maxListItems: config.SENDER_MAX_LIST_ITEMS },
  });
  return {
    authenticate(input) {
      const carried = carriedToken(input);
      if (carried instanceof Error) return carried;
      if (carried.token === undefined) return unauthorized('A token is required: Authorization: Bearer <token> (README, Security)');
      const g = verifier.verify(carried.token);
      const done = (grant: Grant | LunaError) => (grant instanceof Error ? grant : { grant, carried });
      return g instanceof Promise ? g.then(done) : done(g);
    },
  };
}
