import { webcrypto } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { LunaError } from '../errors.js';
import type { QueryLimits } from '../filters/index.js';
import { type Grant, grantOf, unauthorized } from './grant.js';
import type { VerifyKey } from './keys.js';

export interface VerifierOptions {
  readonly keys: readonly VerifyKey[];
  readonly leewayS: number;
  readonly audience: string;
  readonly issuer: string;
  readonly limits: QueryLimits;
  /** Verified tokens remembered (0: none); see Verifier.verify. */
  readonly cacheSize?: number;
}

/** Tokens longer than this are not cached (the cache's memory stays under cacheSize x 2 KiB). */
const CACHE_MAX_TOKEN = 2048;
const DEFAULT_CACHE = 4096;

/**
 * Checks tokens against the configured keys with jose (no crypto of ours). A token is tried only
 * against keys that may verify its header's algorithm (and, when both name one, its kid), so
 * `alg: none`, an algorithm no key has, and HS256 signed with a public key (algorithm confusion)
 * are refused before any key is tried.
 *
 * Verified tokens are remembered by their text in a bounded LRU until `exp` plus leeway: a
 * reconnect storm with the same token (every tab of an operator's browser after a restart) then
 * costs a Map lookup instead of a signature check (RS256 verification is ~30 us of CPU, see
 * bench/RESULTS.md). Only successes are cached, so garbage cannot evict good entries faster than
 * good tokens arrive; keys never change while the worker runs, so a cached answer stays right.
 */
/** WebCrypto import parameters per JWS algorithm (RFC 7518 3). */
const IMPORT: Readonly<Record<string, webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.HmacImportParams | webcrypto.Algorithm>> = {
  HS256: { name: 'HMAC', hash: 'SHA-256' },
  HS384: { name: 'HMAC', hash: 'SHA-384' },
  HS512: { name: 'HMAC', hash: 'SHA-512' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
  Ed25519: { name: 'Ed25519' },
};

/**
 * A key as the CryptoKey jose verifies with. jose's webapi build converts a KeyObject to a
 * CryptoKey on every call; measured on this machine (Node 20): 125 us of CPU per HS256 verification
 * with a KeyObject, 34 us with a CryptoKey imported once.
 */
function importFor(k: VerifyKey, alg: string): Promise<webcrypto.CryptoKey> {
  const params = IMPORT[alg];
  if (k.key.type === 'secret') return webcrypto.subtle.importKey('raw', k.key.export(), params, false, ['verify']);
  return webcrypto.subtle.importKey('spki', k.key.export({ type: 'spki', format: 'der' }), params, false, ['verify']);
}

export class Verifier {
  private readonly algorithms: ReadonlySet<string>;
  private readonly imported = new Map<VerifyKey, Map<string, Promise<webcrypto.CryptoKey>>>();
  private readonly cache = new Map<string, Grant>();
  private readonly cacheSize: number;

  constructor(private readonly o: VerifierOptions) {
    this.algorithms = new Set(o.keys.flatMap((k) => [...k.algorithms]));
    this.cacheSize = o.cacheSize ?? DEFAULT_CACHE;
  }

  /** Synchronous when the token is cached; never rejects: every failure is a 401 value. */
  verify(token: string): Grant | LunaError | Promise<Grant | LunaError> {
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      this.cache.delete(token);
      if (Date.now() >= hit.expiresAt) return unauthorized('Token expired');
      this.cache.set(token, hit); // most recently used last
      return hit;
    }
    return this.verifyFresh(token).catch(() => unauthorized('Token does not verify'));
  }

  private async verifyFresh(token: string): Promise<Grant | LunaError> {
    // Only the canonical spelling: base64url's last character has unused bits, so one signed token
    // has several spellings that decode alike; refusing the others keeps one text per token (the
    // cache key) and leaves nothing to a decoder's leniency.
    for (const seg of token.split('.')) {
      if (Buffer.from(seg, 'base64url').toString('base64url') !== seg) return unauthorized('Token is not canonical base64url');
    }
    let alg: unknown;
    let kid: unknown;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch {
      return unauthorized('Token is not a JSON Web Token (three base64url parts, a JSON header)');
    }
    if (typeof alg !== 'string' || !this.algorithms.has(alg)) {
      return unauthorized(`Token algorithm is not accepted; accepted: ${[...this.algorithms].join(', ')}`);
    }
    const candidates = this.o.keys.filter((k) => k.algorithms.has(alg) && (typeof kid !== 'string' || k.kid === undefined || k.kid === kid));
    if (candidates.length === 0) return unauthorized('No configured key matches the token (algorithm and kid)');
    const options = {
      algorithms: [alg],
      clockTolerance: this.o.leewayS,
      requiredClaims: ['exp'],
      ...(this.o.audience !== '' ? { audience: this.o.audience } : {}),
      ...(this.o.issuer !== '' ? { issuer: this.o.issuer } : {}),
    };
    for (const k of candidates) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, await this.cryptoKey(k, alg), options));
      } catch (e) {
        if (e instanceof errors.JWSSignatureVerificationFailed) continue; // rotation: the next key may verify it
        return unauthorized(describe(e));
      }
      // jose does not look at an `iat` in the future (only at its age, with maxTokenAge).
      const iat = payload.iat;
      if (typeof iat === 'number' && iat * 1000 > Date.now() + this.o.leewayS * 1000) return unauthorized("Token claim 'iat' is in the future");
      const grant = grantOf(payload, this.o.leewayS, this.o.limits);
      if (!(grant instanceof Error)) this.remember(token, grant);
      return grant;
    }
    return unauthorized('Token signature does not verify with any configured key');
  }

  /** Imported on first use, once per key and algorithm. */
  private cryptoKey(k: VerifyKey, alg: string): Promise<webcrypto.CryptoKey> {
    let byAlg = this.imported.get(k);
    if (byAlg === undefined) {
      byAlg = new Map();
      this.imported.set(k, byAlg);
    }
    let p = byAlg.get(alg);
    if (p === undefined) {
      p = importFor(k, alg);
      byAlg.set(alg, p);
    }
    return p;
  }

  private remember(token: string, grant: Grant): void {
    if (this.cacheSize === 0 || token.length > CACHE_MAX_TOKEN) return;
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, grant);
  }
}

/** jose's messages name the claim and the check, never the token's content. */
function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'Token expired';
  if (e instanceof errors.JWTClaimValidationFailed) return `Token claim check failed: ${e.message}`;
  if (e instanceof errors.JOSEAlgNotAllowed) return 'Token algorithm is not accepted';
  return 'Token is malformed';
}
