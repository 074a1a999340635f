import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * A real headless Chromium for the tests of the gateway's pages: Debian's `chromium` package
 * (`.ci/run` installs it), driven by playwright-core, which downloads no browser of its own.
 * CHROMIUM_PATH points elsewhere (another distribution's binary).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches (e.g. a certificate to trust by its key hash). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package or set CHROMIUM_PATH`);
  // Chromium refuses to run as root with its sandbox; the tests run as root in CI containers.
  const args = [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ...extraArgs];
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** One browser for a test file: launched in before(), closed in after(); call at the file's top level. */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw new Error('the browser is not started yet (use it inside a test)');
    return browser;
  };
}

export interface PageWatch {
  /** console.error messages and uncaught exceptions, as text. */
  readonly errors: string[];
  /** Requests that went anywhere but `origin` (a page must need nothing from outside). */
  readonly foreign: string[];
}

/**
 * Records what a page must not do: log errors, throw, or fetch from anywhere but the gateway.
 * `expected` lets a test accept error lines it causes on purpose (a refused request's status line).
 */
export function watchPage(page: Page, origin: string, expected: (text: string) => boolean = () => false): PageWatch {
  const w: PageWatch = { errors: [], foreign: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected(`${m.text()} ${m.location().url}`)) w.errors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => w.errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) w.foreign.push(r.url());
  });
  page.on('websocket', (ws) => {
    const u = new URL(ws.url());
    if (u.host !== new URL(origin).host) w.foreign.push(ws.url());
  });
  return w;
}
