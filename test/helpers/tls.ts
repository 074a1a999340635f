import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Answer } from './http.js';

export interface TestCert {
  dir: string;
  cert: string;
  key: string;
  /** The self-signed certificate, for the clients' `ca` option. */
  ca: Buffer;
  /** The gateway's TLS settings for this certificate. */
  env: Record<string, string>;
  remove(): void;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost made with `openssl` in a temporary
 * directory (remove() deletes it), with the key encrypted when a passphrase is given.
 */
export function makeCert(passphrase?: string): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'luna-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    ...(passphrase ? ['-aes-256-cbc', '-pass', `pass:${passphrase}`] : []),
    '-out',
    key,
  );
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    ...(passphrase ? ['-passin', `pass:${passphrase}`] : []),
    '-subj',
    '/CN=luna-sender test',
    '-days',
    '2',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-out',
    cert,
  );
  const env: Record<string, string> = { SENDER_TLS_CERT_FILE: cert, SENDER_TLS_KEY_FILE: key };
  if (passphrase) env.SENDER_TLS_KEY_PASSPHRASE = passphrase;
  return { dir, cert, key, ca: readFileSync(cert), env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An HTTPS request that trusts `ca` (fetch cannot be given a CA without undici's Agent). */
export function https(url: string, ca: Buffer, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve({ status: res.statusCode ?? 0, headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
