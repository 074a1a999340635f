import { readFileSync } from 'node:fs';

/** package.json is the one source of the version; read once at start-up. */
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; name: string };
const [major, minor, patch] = pkg.version.split(/[.-]/).map((n) => Number(n));

/** The API generation: `/1/...` and `/2/...` are both served with identical behaviour. */
export const API_VERSION = 2;
export const API_PREFIXES = ['1', '2'] as const;
export const VERSION = Object.freeze({ api: API_VERSION, major, minor, patch });
export const PACKAGE_VERSION = pkg.version;
