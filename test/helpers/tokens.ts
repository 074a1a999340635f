import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';

/** Key material made at run time (nothing committed): one HMAC secret, RSA, EC P-256, Ed25519. */
export interface TestKeys {
  readonly dir: string;
  readonly secret: string;
  readonly rsa: { publicKey: KeyObject; privateKey: KeyObject };
  readonly ec: { publicKey: KeyObject; privateKey: KeyObject };
  readonly ed: { publicKey: KeyObject; privateKey: KeyObject };
  /** A PEM file with the three public keys. */
  readonly pemFile: string;
  /** A JWKS file with the three public keys, kids rsa-1, ec-1, ed-1. */
  readonly jwksFile: string;
  remove(): void;
}

export function makeKeys(): TestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'auth-keys-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const pems = [rsa, ec, ed].map((k) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const pemFile = join(dir, 'keys.pem');
  writeFileSync(pemFile, pems.join('\n'));
  const jwksFile = join(dir, 'keys.jwks.json');
  const kids = ['rsa-1', 'ec-1', 'ed-1'];
  writeFileSync(jwksFile, JSON.stringify({ keys: [rsa, ec, ed].map((k, i) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: kids[i], use: 'sig' })) }));
  return {
    dir,
    secret: 'test-secret-of-at-least-32-bytes-0123456789',
    rsa,
    ec,
    ed,
    pemFile,
    jwksFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TokenOptions {
  alg?: string;
  kid?: string;
  /** Seconds from now; default 3600. */
  ttl?: number;
  /** Claims to set or (undefined) leave out; exp is set from ttl unless given here. */
  claims?: Record<string, unknown>;
}

export const VIEW_AND_CREATE = { event: ['view', 'creation'] };

/** A signed token: `key` is a private KeyObject or the HMAC secret. */
export function sign(key: KeyObject | string, account: string, o: TokenOptions = {}): Promise<string> {
  const alg = o.alg ?? (typeof key === 'string' ? 'HS256' : 'RS256');
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { account_id: account, permissions: VIEW_AND_CREATE, exp: now + (o.ttl ?? 3600), iat: now, ...o.claims };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, ...(o.kid !== undefined ? { kid: o.kid } : {}) });
  return jwt.sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
}

/** base64url of a JSON value or bytes, for hand-made tokens (alg none, confusion). */
export function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' || v instanceof Uint8Array ? (v as string) : JSON.stringify(v)).toString('base64url');
}
