import { createVerifier, TokenError } from 'fast-jwt';
import { ConfigError } from '../config/index.js';
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

type Check = (token: string) => Record<string, unknown>;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The protected header alone (alg, kid), to pick the keys to try: what jose's decodeProtectedHeader
 * did. Not fast-jwt's decoder, which parses the payload too (measured: ~4 % of an upgrade's CPU,
 * paid again by the verifier); fast-jwt decodes and checks the whole token itself afterwards.
 */
function headerOf(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const h: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return typeof h === 'object' && h !== null && !Array.isArray(h) ? (h as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks tokens against the configured keys with fast-jwt (no crypto of ours): synchronous, on
 * node:crypto (createHmac, createVerify), so a check costs its CPU on the event loop and no trip
 * to the libuv thread pool. jose 6 verifies through WebCrypto, which is asynchronous and costs
 * ~6x the CPU per HS256 check (bench/RESULTS.md, access control).
 *
 * A token is tried only against keys that may verify its header's algorithm (and, when both name
 * one, its kid), so `alg: none`, an algorithm no key has, and HS256 signed with a public key
 * (algorithm confusion) are refused before any key is tried; fast-jwt checks the same again per
 * key (each key's verifier allows only that key's algorithms, fixed by its type in keys.ts: note
 * that fast-jwt would take a PEM as an HMAC secret if it were asked for HS* alone, which keys.ts
 * never asks).
 *
 * Verified tokens are remembered by their text in a bounded LRU until `exp` plus leeway: a
 * reconnect storm with the same token (every tab of an operator's browser after a restart) then
 * costs a Map lookup instead of a signature check. Only successes are cached, so garbage cannot
 * evict good entries faster than good tokens arrive; keys never change while the worker runs, so a
 * cached answer stays right. (fast-jwt's own cache is off: ours is keyed by the canonical text.)
 */
export class Verifier {
  private readonly algorithms: ReadonlySet<string>;
  private readonly checks: ReadonlyMap<VerifyKey, Check>;
  private readonly cache = new Map<string, Grant>();
  private readonly cacheSize: number;

  constructor(private readonly o: VerifierOptions) {
    this.algorithms = new Set(o.keys.flatMap((k) => [...k.algorithms]));
    this.cacheSize = o.cacheSize ?? DEFAULT_CACHE;
    this.checks = new Map(o.keys.map((k) => [k, checkFor(k, o)]));
  }

  /** Verified tokens currently remembered. */
  get cached(): number {
    return this.cache.size;
  }

  /** Never throws: every failure is a 401 value. */
  verify(token: string): Grant | LunaError {
    const hit = this.cache.get(token);
    if (hit !== undefined) {
      this.cache.delete(token);
      if (Date.now() >= hit.expiresAt) return unauthorized('Token expired');
      this.cache.set(token, hit); // most recently used last
      return hit;
    }
    return this.verifyFresh(token);
  }

  private verifyFresh(token: string): Grant | LunaError {
    // Only the canonical spelling: base64url's last character has unused bits, so one signed token
    // has several spellings that decode alike; refusing the others keeps one text per token (the
    // cache key) and leaves nothing to a decoder's leniency.
    // Cheaply: every character in the alphabet, and the last (partial) group of 4 round-trips; full
    // groups have no unused bits. (Round-tripping whole segments was ~6 % of an upgrade's CPU.)
    for (const seg of token.split('.')) {
      const tail = seg.slice(seg.length - (seg.length % 4 || 4));
      if (!BASE64URL.test(seg) || Buffer.from(tail, 'base64url').toString('base64url') !== tail) return unauthorized('Token is not canonical base64url');
    }
    const header = headerOf(token);
    if (header === undefined) return unauthorized('Token is not a JSON Web Token (three base64url parts, a JSON header)');
    const { alg, kid } = header;
    if (typeof alg !== 'string' || !this.algorithms.has(alg)) {
      return unauthorized(`Token algorithm is not accepted; accepted: ${[...this.algorithms].join(', ')}`);
    }
    const candidates = this.o.keys.filter((k) => k.algorithms.has(alg) && (typeof kid !== 'string' || k.kid === undefined || k.kid === kid));
    if (candidates.length === 0) return unauthorized('No configured key matches the token (algorithm and kid)');
    for (const k of candidates) {
      let payload: Record<string, unknown>;
      try {
        payload = this.checks.get(k)!(token);
      } catch (e) {
        if (e instanceof TokenError && e.code === TokenError.codes.invalidSignature) continue; // rotation: the next key may verify it
        return unauthorized(describe(e));
      }
      // fast-jwt looks at `iat` only with maxAge; a future or non-numeric one is refused here.
      const iat = payload.iat;
      if (iat !== undefined && typeof iat !== 'number') return unauthorized("Token claim 'iat' is not a number");
      if (typeof iat === 'number' && iat * 1000 > Date.now() + this.o.leewayS * 1000) return unauthorized("Token claim 'iat' is in the future");
      const grant = grantOf(payload, this.o.leewayS, this.o.limits);
      if (!(grant instanceof Error)) this.remember(token, grant);
      return grant;
    }
    return unauthorized('Token signature does not verify with any configured key');
  }

  private remember(token: string, grant: Grant): void {
    if (this.cacheSize === 0 || token.length > CACHE_MAX_TOKEN) return;
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, grant);
  }
}

/**
 * One fast-jwt verifier per key, built once, allowed only that key's algorithms. fast-jwt takes a
 * secret or a PEM (it reads the PEM to learn which algorithms the key can verify and refuses a
 * mismatch), so a public KeyObject is handed over as its SPKI PEM.
 */
function checkFor(k: VerifyKey, o: VerifierOptions): Check {
  const required = ['exp'];
  if (o.audience !== '') required.push('aud'); // fast-jwt skips allowedAud when the claim is absent
  if (o.issuer !== '') required.push('iss');
  try {
    return createVerifier({
      key: k.key.type === 'secret' ? k.key.export() : (k.key.export({ type: 'spki', format: 'pem' }) as string),
      algorithms: [...k.algorithms] as never,
      clockTolerance: o.leewayS * 1000,
      requiredClaims: required,
      cache: false,
      ...(o.audience !== '' ? { allowedAud: o.audience } : {}),
      ...(o.issuer !== '' ? { allowedIss: o.issuer } : {}),
    }) as Check;
  } catch (e) {
    throw new ConfigError([`${k.origin} cannot verify tokens: ${(e as Error).message}`]);
  }
}

/** fast-jwt's messages name the claim and the check, never the token's content. */
function describe(e: unknown): string {
  if (!(e instanceof TokenError)) return 'Token is malformed';
  switch (e.code) {
    case TokenError.codes.expired:
      return 'Token expired';
    case TokenError.codes.inactive:
    case TokenError.codes.missingRequiredClaim:
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.invalidClaimValue:
      return `Token claim check failed: ${e.message}`;
    case TokenError.codes.invalidAlgorithm:
      return 'Token algorithm is not accepted';
    default:
      return 'Token is malformed';
  }
}
