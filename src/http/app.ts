import type { Config } from '../config/index.js';
import { type UWS, uws } from '../uws.js';

/**
 * The worker's uWS app: with both TLS files (checked readable and usable at config load,
 * config/tls.ts) an SSLApp, so the one port serves HTTPS and WSS only; otherwise plain HTTP.
 * Everything mounted on it is the same either way.
 */
export function createApp(config: Config): UWS.TemplatedApp {
  if (config.SENDER_TLS_CERT_FILE === '') return uws.App();
  return uws.SSLApp({
    cert_file_name: config.SENDER_TLS_CERT_FILE,
    key_file_name: config.SENDER_TLS_KEY_FILE,
    passphrase: config.SENDER_TLS_KEY_PASSPHRASE,
  });
}
