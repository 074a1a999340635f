import type * as UWS from 'uWebSockets.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Loads a native uWebSockets.js binary and refuses the pure-JS fallback. No single package on the
 * npm registry has native builds for every current Node LTS on every glibc (README, Node.js
 * versions), so two are installed and the first whose binary loads wins:
 *
 * - `uWebSockets.js` = @trufflesuite/uws-js-unofficial 20.30: Node 16/18/20 (ABI 93/108/115), glibc
 *   >= 2.36 (Debian 12). First, because it is the build CI tests and the only one for Debian 12.
 * - `uws-node22plus` = @btc-vision/uwebsockets.js 20.57: Node 20/22/24/25 (ABI 115/127/137/141),
 *   glibc >= 2.38 (Debian 13, Ubuntu 24.04). The only one for Node 22 and 24.
 *
 * The `.node` file is required directly instead of the package's loader: the trufflesuite loader
 * prints a plain-text warning and returns its slow JavaScript imitation when the binary does not
 * load (or when UWS_USE_FALLBACK is set), and a gateway on it would be an order of magnitude slower
 * and behave differently. A candidate without a file for this platform and ABI is skipped without
 * a load attempt. The typings are 20.30's; where 20.57's differ, the code holds for both (README).
 */
export class UwsFallbackError extends Error {
  override readonly name = 'UwsFallbackError';
}

export function isNativeUws(mod: { App?: unknown }): boolean {
  return typeof mod.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(mod.App));
}

interface Candidate {
  /** The dependency name in package.json. */
  dep: string;
  /** Where that package keeps its binaries, relative to its folder. */
  binaries: string;
}

const CANDIDATES: readonly Candidate[] = [
  { dep: 'uWebSockets.js', binaries: 'binaries' },
  { dep: 'uws-node22plus', binaries: '.' },
];

/** Which build is running: logged at start-up. */
export interface UwsBuild {
  /** The dependency it came from (package.json). */
  dep: string;
  /** The npm package and version behind that dependency. */
  package: string;
  version: string;
  /** The binary's file name: platform, arch, Node ABI. */
  binary: string;
}

/** Which Node/glibc combinations have a native build (README, Node.js versions). */
const WORKS =
  'Native builds exist for Linux x64/arm64 with Node 20 on glibc >= 2.36 (Debian 12), and Node 20, 22 or 24 on glibc >= 2.38 (Debian 13, Ubuntu 24.04)';

function glibc(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ?? 'none';
}

function load(): { mod: typeof UWS; build: UwsBuild } {
  const flag = process.env.UWS_USE_FALLBACK;
  if (flag !== undefined && flag !== '' && flag !== '0' && flag.toLowerCase() !== 'false') {
    throw new UwsFallbackError(
      `UWS_USE_FALLBACK=${flag} asks for the pure-JS imitation of uWebSockets.js; luna-sender runs only on the native binary. Unset UWS_USE_FALLBACK.`,
    );
  }
  const require = createRequire(import.meta.url);
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const tried: string[] = [];
  for (const c of CANDIDATES) {
    // Looked up along node_modules by hand: the 20.57 package's `exports` hides its package.json.
    const dir = require.resolve
      .paths(c.dep)
      ?.map((p) => join(p, c.dep))
      .find((d) => existsSync(join(d, 'package.json')));
    if (dir === undefined) {
      tried.push(`${c.dep}: not installed`);
      continue;
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
    const label = `${c.dep} (${pkg.name} ${pkg.version})`;
    const file = join(dir, c.binaries, binary);
    if (!existsSync(file)) {
      tried.push(`${label}: no ${binary}`);
      continue;
    }
    try {
      const mod = require(file) as typeof UWS;
      if (isNativeUws(mod)) return { mod, build: { dep: c.dep, package: pkg.name, version: pkg.version, binary } };
      tried.push(`${label}: ${binary} is not a native uWS build`);
    } catch (err) {
      // dlopen's message names the missing symbol version, e.g. "GLIBC_2.38' not found".
      tried.push(`${label}: ${String((err as Error).message).split('\n')[0]}`);
    }
  }
  throw new UwsFallbackError(
    `no native uWebSockets.js binary loads on Node ${process.version} (ABI ${process.versions.modules}), ${process.platform}-${process.arch}, glibc ${glibc()}; ` +
      `refusing to run on the pure-JS fallback. Tried: ${tried.join('; ')}. ${WORKS}; reinstall with \`npm ci\`.`,
  );
}

const loaded = load();
export const uws: typeof UWS = loaded.mod;
export const uwsBuild: Readonly<UwsBuild> = Object.freeze(loaded.build);
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
