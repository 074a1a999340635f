import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

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
