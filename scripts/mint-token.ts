import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';
import { UUID_RE } from '../src/events/ids.js';
import { parseFilterQuery } from '../src/filters/index.js';

/**
 * Mints a token the gateway accepts with SENDER_AUTH=jwt (README, Security), for tests and for
 * operators: signed with the first of SENDER_AUTH_HMAC_SECRETS (HS256), or with `--key` (a
 * private key PEM: RSA -> RS256 unless --alg PS256, EC P-256 -> ES256, Ed25519 -> EdDSA).
 *
 *   SENDER_AUTH_HMAC_SECRETS=... node build/scripts/mint-token.js --account <uuid> \
 *     [--permissions view,creation] [--filter 'sources=cam1'] [--ttl 3600] [--aud ...] [--iss ...] [--kid ...]
 *
 * Prints the token and nothing else on stdout (so `TOKEN=$(node ... )` works). The filter is
 * checked with the gateway's own parser, so a token that would be refused with 403 is not minted.
 */
const USAGE =
  'usage: mint-token --account <uuid> [--permissions view,creation] [--filter <query>] [--ttl <seconds>] [--aud <audience>] [--iss <issuer>] [--key <private.pem> [--alg PS256] [--kid <kid>]]';

export interface MintOptions {
  readonly account: string;
  readonly permissions: readonly string[];
  readonly filter?: string;
  readonly ttl: number;
  readonly aud?: string;
  readonly iss?: string;
  readonly kid?: string;
  readonly alg?: string;
}

function algorithmOf(key: KeyObject, wanted: string | undefined): string {
  const type = key.asymmetricKeyType;
  const algs = type === 'rsa' ? ['RS256', 'PS256'] : type === 'ec' ? ['ES256'] : type === 'ed25519' ? ['EdDSA'] : [];
  if (algs.length === 0) throw new Error(`--key: a ${type} key cannot sign tokens the gateway accepts`);
  if (wanted === undefined) return algs[0];
  if (!algs.includes(wanted)) throw new Error(`--alg ${wanted} does not suit a ${type} key (${algs.join(', ')})`);
  return wanted;
}

export async function mintToken(o: MintOptions, key: KeyObject | string): Promise<string> {
  if (!UUID_RE.test(o.account)) throw new Error('--account must be a UUID');
  if (o.filter !== undefined) {
    const r = parseFilterQuery(o.filter, { maxListItems: 10000 });
    if (!r.ok) throw new Error(`--filter: ${r.detail}`);
    if (r.session.size > 0) throw new Error('--filter may hold filters only');
  }
  if (!Number.isInteger(o.ttl) || o.ttl <= 0) throw new Error('--ttl must be a positive number of seconds');
  const claims: Record<string, unknown> = { account_id: o.account.toLowerCase(), permissions: { event: [...o.permissions] } };
  if (o.filter !== undefined) claims.filter = o.filter;
  const alg = typeof key === 'string' ? 'HS256' : algorithmOf(key, o.alg);
  // fast-jwt, the gateway's verifier library, signs too (iat is set by default; typ JWT is its
  // default header). It takes a secret or a PEM, so a private KeyObject goes as its PKCS#8 PEM.
  const sign = createSigner({
    key: typeof key === 'string' ? key : (key.export({ type: 'pkcs8', format: 'pem' }) as string),
    algorithm: alg as never,
    expiresIn: o.ttl * 1000,
    ...(o.kid !== undefined ? { kid: o.kid } : {}),
    ...(o.aud !== undefined ? { aud: o.aud } : {}),
    ...(o.iss !== undefined ? { iss: o.iss } : {}),
  });
  return sign(claims);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      account: { type: 'string' },
      permissions: { type: 'string', default: 'view' },
      filter: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      aud: { type: 'string' },
      iss: { type: 'string' },
      key: { type: 'string' },
      alg: { type: 'string' },
      kid: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values.account === undefined) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  let key: KeyObject | string;
  if (values.key !== undefined) key = createPrivateKey(readFileSync(values.key));
  else {
    const secret = (process.env.SENDER_AUTH_HMAC_SECRETS ?? '').split(',')[0];
    if (secret === '') throw new Error('set SENDER_AUTH_HMAC_SECRETS (the first secret signs) or give --key <private.pem>');
    key = secret;
  }
  const permissions = values.permissions.split(',').map((p) => p.trim());
  for (const p of permissions) if (p !== 'view' && p !== 'creation') throw new Error(`--permissions: '${p}' is neither view nor creation`);
  const token = await mintToken(
    {
      account: values.account,
      permissions,
      filter: values.filter,
      ttl: Number(values.ttl),
      aud: values.aud,
      iss: values.iss,
      kid: values.kid,
      alg: values.alg,
    },
    key,
  );
  process.stdout.write(`${token}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: Error) => {
    process.stderr.write(`mint-token: ${err.message}\n`);
    process.exit(1);
  });
}
