import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/index.js';

/** A key that may verify tokens, with the algorithms it may verify them with (SPEC 10). */
export interface VerifyKey {
  readonly key: KeyObject;
  readonly algorithms: ReadonlySet<string>;
  /** `kid` of a JWKS entry: a token naming another kid is not tried against it. */
  readonly kid: string | undefined;
  /** For start-up logging and errors: where the key came from, never its material. */
  readonly origin: string;
}

/** RFC 7518 3.2: an HMAC key at least as long as the hash output of HS256. */
const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;
const HMAC_ALGS: ReadonlySet<string> = new Set(['HS256', 'HS384', 'HS512']);
/** RFC 8037 `EdDSA` (SPEC 10); the fully-specified `Ed25519` name is not one fast-jwt verifies. */
const ED25519_ALGS = ['EdDSA'];

/**
 * The algorithms a public key may verify: fixed by its type, so that a token can never pick how its
 * signature is checked (no `none`, no HS* with a public key as the secret: algorithm confusion is
 * excluded because HS* is only ever paired with a configured secret, which fast-jwt also enforces
 * by key type). A JWKS `alg`, when given, narrows the set to that one.
 */
function publicAlgorithms(key: KeyObject, origin: string, declared: unknown): Set<string> {
  let algs: string[];
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are required`]);
    algs = ['RS256', 'PS256'];
  } else if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is an EC key on ${curve}; only P-256 (ES256) is accepted`]);
    algs = ['ES256'];
  } else if (type === 'ed25519') {
    algs = ED25519_ALGS;
  } else {
    throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is a ${type} key; RSA, EC P-256 or Ed25519 are accepted`]);
  }
  if (declared === undefined) return new Set(algs);
  if (typeof declared !== 'string' || !algs.includes(declared)) {
    throw new ConfigError([
      `SENDER_AUTH_PUBLIC_KEYS: ${origin} declares alg ${JSON.stringify(declared)}, which its key type cannot verify (${algs.join(', ')})`,
    ]);
  }
  return new Set([declared]);
}

function hmacKeys(secrets: string): VerifyKey[] {
  if (secrets === '') return [];
  return secrets.split(',').map((s, i) => {
    const origin = `secret #${i + 1}`;
    if (Buffer.byteLength(s) < MIN_SECRET_BYTES) {
      throw new ConfigError([`SENDER_AUTH_HMAC_SECRETS: ${origin} is shorter than ${MIN_SECRET_BYTES} bytes`]);
    }
    return { key: createSecretKey(Buffer.from(s, 'utf8')), algorithms: HMAC_ALGS, kid: undefined, origin };
  });
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemKeys(text: string, file: string): VerifyKey[] {
  const out: VerifyKey[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const origin = `${file} PEM block #${out.length + 1}`;
    if (m[1].includes('PRIVATE')) throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is a private key; give the public key only`]);
    let key: KeyObject;
    try {
      key = createPublicKey(m[0]);
    } catch (e) {
      throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} cannot be read: ${(e as Error).message}`]);
    }
    out.push({ key, algorithms: publicAlgorithms(key, origin, undefined), kid: undefined, origin });
  }
  return out;
}

function jwksKeys(text: string, file: string): VerifyKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${file} is not JSON: ${(e as Error).message}`]);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${file} must be a JWKS object {"keys": [...]}`]);
  return keys.map((jwk: Record<string, unknown>, i) => {
    const origin = `${file} key #${i + 1}${typeof jwk.kid === 'string' ? ` (kid ${JSON.stringify(jwk.kid)})` : ''}`;
    if (jwk.kty === 'oct') throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is a secret (kty oct); secrets go in SENDER_AUTH_HMAC_SECRETS`]);
    if (jwk.d !== undefined) throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} holds a private key; give the public key only`]);
    if (jwk.use !== undefined && jwk.use !== 'sig')
      throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} is not a signing key (use ${JSON.stringify(jwk.use)})`]);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch (e) {
      throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: ${origin} cannot be read: ${(e as Error).message}`]);
    }
    return { key, algorithms: publicAlgorithms(key, origin, jwk.alg), kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, origin };
  });
}

/** Every key the configuration names, read once at start-up; a problem stops the worker (ConfigError). */
export function loadKeys(secrets: string, publicKeysFile: string): VerifyKey[] {
  const keys = hmacKeys(secrets);
  if (publicKeysFile !== '') {
    let text: string;
    try {
      text = readFileSync(publicKeysFile, 'utf8');
    } catch (e) {
      throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: cannot read '${publicKeysFile}': ${(e as Error).message}`]);
    }
    const found = text.trimStart().startsWith('{') ? jwksKeys(text, publicKeysFile) : pemKeys(text, publicKeysFile);
    if (found.length === 0) throw new ConfigError([`SENDER_AUTH_PUBLIC_KEYS: '${publicKeysFile}' holds no key`]);
    keys.push(...found);
  }
  return keys;
}
