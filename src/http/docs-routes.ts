import { readdirSync, readFileSync } from 'node:fs';
import { Marked } from 'marked';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError } from '../errors.js';
import { buildOpenApi, renderSpec } from '../openapi/index.js';
import { negotiate } from './accept.js';
import { docsNav, escapeHtml, htmlPage, type TocEntry } from './html-page.js';
import { addRoute, type RouteTable } from './router.js';

/** Offered in this order of preference: on a tie (and for `*\/*`) YAML wins, as LUNA answers. */
const SPEC_TYPES = ['application/x-yaml', 'text/html', 'application/json'] as const;
const SPEC_ALIASES = { 'application/yaml': 'application/x-yaml', 'text/yaml': 'application/x-yaml' } as const;
const HTML = 'text/html; charset=utf-8';

/** The markdown sources of the manual, relative to the package root (this file runs from dist/src/http/ or build/src/http/). */
export const DOCS_DIR = new URL('../../../docs/', import.meta.url);
/** The README shipped with the package: its configuration and operations sections are pages of the manual. */
export const README_FILE = new URL('../../../README.md', import.meta.url);

/**
 * Pages cut from the README (name -> its `## ` heading): the configuration reference (whose table
 * `npm run docs:readme` generates from the config schema, and a test keeps fresh) and the operations
 * section. Rendered from the file at start-up, so the pages cannot drift from the README.
 */
export const README_PAGES: Readonly<Record<string, string>> = { configuration: 'Configuration', operations: 'Operations' };

/**
 * GET /docs/spec, /docs/dev and the manual's pages. Everything is rendered here, once per worker at
 * start-up: the configuration (which the spec depends on) is frozen and the docs do not change
 * under a running process, so a request only picks a prepared string.
 */
export function docsRoutes(table: RouteTable, ctx: WorkerContext): void {
  const spec = renderSpec(buildOpenApi({ maxEvents: ctx.config.SENDER_MAX_EVENTS_PER_PUBLISH, maxListItems: ctx.config.SENDER_MAX_LIST_ITEMS }));
  const bodies: Record<(typeof SPEC_TYPES)[number], readonly [string, string]> = {
    'application/x-yaml': ['application/x-yaml', spec.yaml],
    'text/html': [HTML, spec.html],
    'application/json': ['application/json', spec.json],
  };
  addRoute(table, 'GET', '/docs/spec', (ex) => {
    const accept = ex.headers.accept;
    // No Accept header accepts anything (RFC 9110 12.5.1); an empty one is treated the same.
    const chosen = accept === undefined || accept.trim() === '' ? SPEC_TYPES[0] : negotiate(accept, SPEC_TYPES, SPEC_ALIASES);
    if (chosen === undefined) {
      throw new LunaError(
        Errors.UnsupportedMediaType,
        `Accept '${accept}' allows none of ${SPEC_TYPES.join(', ')} (synonyms of application/x-yaml: ${Object.keys(SPEC_ALIASES).join(', ')})`,
      );
    }
    const [contentType, body] = bodies[chosen as (typeof SPEC_TYPES)[number]];
    ex.send(200, contentType, body, { Vary: 'Accept' });
  });

  // The folder with a trailing slash is how browsers and people write it (it was a 404).
  for (const path of ['/docs/dev', '/docs/dev/']) addRoute(table, 'GET', path, (ex) => ex.send(302, undefined, '', { Location: '/docs/dev/index.html' }));
  for (const [name, html] of renderManual(DOCS_DIR, ctx, README_FILE)) {
    addRoute(table, 'GET', `/docs/dev/${name}.html`, (ex) => ex.send(200, HTML, html));
  }
  // The manual's pictures (docs/images/, e.g. the console's screenshot), so its pages work offline too.
  for (const [name, bytes] of manualImages(new URL('images/', DOCS_DIR))) {
    addRoute(table, 'GET', `/docs/dev/images/${name}`, (ex) => ex.send(200, 'image/png', bytes));
  }
}

function manualImages(dir: URL): Map<string, Uint8Array> {
  const images = new Map<string, Uint8Array>();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => /^[A-Za-z0-9_.-]+\.png$/.test(f));
  } catch {
    // No pictures installed: the pages show their alt text.
  }
  for (const f of files) images.set(f, readFileSync(new URL(f, dir)));
  return images;
}

function slug(text: string, taken: Map<string, number>): string {
  const base =
    text
      .toLowerCase()
      .replace(/<[^>]*>/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'section';
  const n = taken.get(base) ?? 0;
  taken.set(base, n + 1);
  return n === 0 ? base : `${base}-${n}`;
}

/**
 * The README's `## <heading>` section, up to the next `## ` (not inside a fence), or undefined.
 * Its links to docs/*.md and docs/images/ point at the manual's pages and pictures; other relative
 * links name repository files that are not served and are left as they are.
 */
export function readmeSection(readme: string, heading: string): string | undefined {
  const lines = readme.split('\n');
  let fenced = false;
  let start = -1;
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    if (/^(```|~~~)/.test(lines[i])) fenced = !fenced;
    if (fenced || !lines[i].startsWith('## ')) continue;
    if (start === -1 && lines[i].slice(3).trim() === heading) start = i;
    else if (start !== -1) {
      end = i;
      break;
    }
  }
  if (start === -1) return undefined;
  return lines
    .slice(start, end)
    .join('\n')
    .replace(
      /\]\(docs\/([A-Za-z0-9_-]+)\.md(#[^)]*)?\)/g,
      (_m, name: string, hash = '') => `](/docs/dev/${name === 'development' ? 'index' : name}.html${hash})`,
    )
    .replace(/\]\(docs\/images\//g, '](/docs/dev/images/');
}

/** One markdown file as HTML, with ids on its headings and the list of its h2/h3 for the contents. */
function renderPage(markdown: string): { html: string; headings: TocEntry[] } {
  const headings: TocEntry[] = [];
  const taken = new Map<string, number>();
  const marked = new Marked({
    gfm: true,
    renderer: {
      heading({ tokens, depth, text }) {
        const inner = this.parser.parseInline(tokens);
        const id = slug(text, taken);
        if (depth === 2 || depth === 3) headings.push({ depth, id, html: inner });
        return `<h${depth} id="${id}">${inner}</h${depth}>\n`;
      },
    },
  });
  const html = marked.parse(markdown, { async: false });
  return { html, headings };
}

/**
 * Every docs/*.md as a page named after the file; `index` is development.md (or index.md when
 * present). A missing docs folder (a trimmed deployment) gives one page that says so, rather than
 * a worker that cannot start.
 */
export function renderManual(dir: URL, ctx: Pick<WorkerContext, 'log'>, readmeFile?: URL): Map<string, string> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.md'))
      .sort();
  } catch (err) {
    ctx.log.warn({ dir: dir.pathname, err }, 'development manual sources not found');
    files = [];
  }
  const names = files.map((f) => f.slice(0, -3));
  const indexSource = names.includes('index') ? 'index' : names.includes('development') ? 'development' : undefined;
  const pages = new Map<string, string>();
  let readme: string | undefined;
  if (readmeFile !== undefined) {
    try {
      readme = readFileSync(readmeFile, 'utf8');
    } catch (err) {
      ctx.log.warn({ file: readmeFile.pathname, err }, 'README not found: the manual has no configuration and operations pages');
    }
  }
  // A docs/*.md of the same name wins over the README's section.
  const fromReadme = Object.entries(README_PAGES).filter(([name]) => readme !== undefined && !names.includes(name));
  const pageNames = [...names.filter((n) => n !== indexSource), ...fromReadme.map(([name]) => name)];
  const navHtml = docsNav(pageNames.map((n) => `<a href="/docs/dev/${encodeURIComponent(n)}.html">${escapeHtml(n)}</a>`));
  for (const [name, heading] of fromReadme) {
    const section = readmeSection(readme!, heading) ?? `## ${heading}\n\nThe README of this copy has no section '${heading}'.`;
    const { html, headings } = renderPage(section);
    pages.set(name, htmlPage({ title: `luna-sender: ${heading}`, nav: navHtml, toc: headings, body: html }));
  }

  for (const name of names) {
    const { html, headings } = renderPage(readFileSync(new URL(`${name}.md`, dir), 'utf8'));
    const page = htmlPage({ title: `luna-sender: ${name === indexSource ? 'Development manual' : name}`, nav: navHtml, toc: headings, body: html });
    pages.set(name === indexSource ? 'index' : name, page);
  }
  if (!pages.has('index')) {
    const body = '<p>The manual sources (docs/*.md) are not installed with this copy.</p>';
    pages.set('index', htmlPage({ title: 'luna-sender: Development manual', nav: navHtml, toc: [], body }));
  }
  return pages;
}
