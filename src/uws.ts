import type * as UWS from 'uWebSockets.js';
import { createRequire } from 'node:module';

/**
 * Loads uWebSockets.js and refuses its pure-JS fallback. The republished package we depend on
 * (see README) prints a warning and silently returns a slow JavaScript imitation when its native
 * binary does not load, or when UWS_USE_FALLBACK is set; a gateway running on it would be an
 * order of magnitude slower and behave differently, so we stop instead.
 */
export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
}

export function isNativeUws(mod: { App?: unknown }): boolean {
  return typeof mod.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(mod.App));
}

function loadNative(): typeof UWS {
  const flag = process.env.UWS_USE_FALLBACK;
  if (flag !== undefined && flag !== '' && flag !== '0' && flag.toLowerCase() !== 'false') {
    throw new UwsFallbackError(
      `UWS_USE_FALLBACK=${flag} asks for the pure-JS imitation of uWebSockets.js; luna-sender runs only on the native binary. Unset UWS_USE_FALLBACK.`,
    );
  }
  const require = createRequire(import.meta.url);
  const mod = require('uWebSockets.js') as typeof UWS;
  if (!isNativeUws(mod)) {
    throw new UwsFallbackError(
      `the native uWebSockets.js binary did not load (platform ${process.platform}-${process.arch}, Node ABI ${process.versions.modules}); ` +
        'refusing to run on the pure-JS fallback. Use Node.js 20 on Linux x64/arm64 (glibc >= 2.36) and reinstall with `npm ci`.',
    );
  }
  return mod;
}

export const uws: typeof UWS = loadNative();
export type { UWS };

/** A listen that failed: uWS reports no errno, only that it could not bind. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** uWS's ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT (typings: docs/index.d.ts): bind without SO_REUSEPORT. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/**
 * Listens on host:port. By default uWS sets SO_REUSEPORT, so processes of one user share a port and
 * the kernel spreads connections between them: the design with Redis (workers, PM2 instances).
 * `exclusive` binds without it, which fails when any socket holds the port, SO_REUSEPORT or not
 * (and keeps later ones out): on the in-process bus a second gateway on the port would take half
 * the connections and see only its own publishes. The typings lack the (host, port, options, cb)
 * overload that the native binary has, hence the cast.
 */
export function listen(app: UWS.TemplatedApp, host: string, port: number, opts: { exclusive: boolean }): Promise<UWS.us_listen_socket> {
  type Cb = (s: UWS.us_listen_socket | false) => void;
  const withOptions = app.listen as unknown as (host: string, port: number, options: number, cb: Cb) => UWS.TemplatedApp;
  return new Promise((resolve, reject) => {
    const done: Cb = (s) => {
      if (s) return resolve(s);
      reject(
        new ListenError(
          opts.exclusive
            ? `cannot listen on ${host}:${port}: the port is in use (or the address cannot be bound). On the in-process bus the gateway does not share its port: a second one would take half the connections and see only its own publishes. Stop the other process, choose another SENDER_PORT, or set REDIS_URL to run several processes on one port.`
            : `cannot listen on ${host}:${port}: the port is in use by a process that does not share it (or the address cannot be bound)`,
        ),
      );
    };
    if (opts.exclusive) withOptions.call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, done);
    else app.listen(host, port, done);
  });
}
