import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface TlsKeys {
  readonly SENDER_TLS_CERT_FILE: string;
  readonly SENDER_TLS_KEY_FILE: string;
  readonly SENDER_TLS_KEY_PASSPHRASE: string;
}

/**
 * The start-up check of the TLS keys, before uWS sees them: uWS 20.30's SSLApp only throws `App
 * construction failed` for an unreadable file, a wrong passphrase or a broken PEM, naming none, so
 * the files are read and parsed here (node:crypto, the same PEM formats) and a gateway with a half
 * or broken TLS configuration refuses to start saying which key is wrong and why (also in the
 * supervisor, before any worker is forked: a worker failing at start would be restarted forever).
 */
export function tlsProblems(c: TlsKeys): string[] {
  const cert = c.SENDER_TLS_CERT_FILE;
  const key = c.SENDER_TLS_KEY_FILE;
  if (cert === '' && key === '') {
    return c.SENDER_TLS_KEY_PASSPHRASE === '' ? [] : ['SENDER_TLS_KEY_PASSPHRASE: is set but SENDER_TLS_KEY_FILE is not'];
  }
  if (cert === '') return ['SENDER_TLS_CERT_FILE: is empty but SENDER_TLS_KEY_FILE is set; give both or neither'];
  if (key === '') return ['SENDER_TLS_KEY_FILE: is empty but SENDER_TLS_CERT_FILE is set; give both or neither'];
  const problems: string[] = [];
  const read = (name: string, file: string): Buffer | undefined => {
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push(`${name}: cannot read '${file}': ${(err as Error).message}`);
      return undefined;
    }
  };
  const certPem = read('SENDER_TLS_CERT_FILE', cert);
  const keyPem = read('SENDER_TLS_KEY_FILE', key);
  let x509: X509Certificate | undefined;
  if (certPem !== undefined) {
    try {
      x509 = new X509Certificate(certPem);
    } catch (err) {
      problems.push(`SENDER_TLS_CERT_FILE: '${cert}' holds no PEM certificate: ${(err as Error).message}`);
    }
  }
  if (keyPem !== undefined) {
    try {
      const pk = createPrivateKey({ key: keyPem, passphrase: c.SENDER_TLS_KEY_PASSPHRASE });
      if (x509 !== undefined && !x509.checkPrivateKey(pk)) problems.push(`SENDER_TLS_KEY_FILE: '${key}' is not the key of the certificate in '${cert}'`);
    } catch (err) {
      const why = (err as Error).message;
      const hint = /passphrase|decrypt|interrupted/i.test(why) ? ' (wrong or missing SENDER_TLS_KEY_PASSPHRASE?)' : '';
      problems.push(`SENDER_TLS_KEY_FILE: '${key}' holds no usable private key${hint}: ${why}`);
    }
  }
  return problems;
}
