/**
 * The one HTML page shell of the gateway's pages: the OpenAPI page (GET /docs/spec as text/html),
 * the development manual's pages and the console (GET /console) share its head, styles and layout.
 * Self-contained on purpose (no external scripts, styles or fonts): the pages must render offline
 * and behind proxies. Only the console carries a script, inline.
 */

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** One contents entry; depth 2 or 3 (h2/h3). `html` is markup already escaped by the caller. */
export interface TocEntry {
  readonly depth: number;
  readonly id: string;
  readonly html: string;
}

export interface PageParts {
  /** Plain text; escaped here. */
  readonly title: string;
  /** Markup of the links above the page (already escaped). */
  readonly nav: string;
  readonly toc: readonly TocEntry[];
  /** Markup of the page itself (already escaped). */
  readonly body: string;
  /** More CSS after the shared rules. */
  readonly style?: string;
  /** An inline ES module (trusted source text, never user input), run after the body. */
  readonly script?: string;
}

/** The links every documentation page starts with. */
export function docsNav(extra: readonly string[] = []): string {
  const links = [
    '<a href="/docs/dev/index.html">manual</a>',
    ...extra,
    '<a href="/docs/spec" type="text/html">API (OpenAPI)</a>',
    '<a href="/console">console</a>',
  ];
  return `<nav>${links.join(' · ')}</nav>`;
}

export function htmlPage(p: PageParts): string {
  const toc = p.toc.map((h) => `<li class="l${h.depth}"><a href="#${escapeHtml(h.id)}">${h.html}</a></li>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>${escapeHtml(p.title)}</title>
<style>${CSS}${p.style ?? ''}</style></head><body>
${p.nav}
${p.toc.length < 2 ? '' : `<aside><strong>Contents</strong><ul class="toc">${toc}</ul></aside>`}
<main>${p.body}</main>
${p.script === undefined ? '' : `<script type="module">${p.script}</script>\n`}</body></html>
`;
}

/**
 * Phone screens: wide tables scroll inside themselves (display:block) and long words break, so the
 * page itself never scrolls sideways (tested in Chromium at 390 px, test/integration/docs.test.ts).
 */
const CSS =
  'body{font:15px/1.55 system-ui,sans-serif;max-width:70em;margin:1.5em auto;padding:0 1em;color:#222;overflow-wrap:break-word}' +
  'nav{font-size:13px;margin-bottom:1em}code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.6em;overflow:auto}' +
  'img{max-width:100%;height:auto}' +
  'table{border-collapse:collapse;margin:.5em 0;display:block;overflow-x:auto;max-width:100%}' +
  'td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}' +
  'th{background:#eee}aside{background:#fafafa;border:1px solid #ddd;padding:.5em 1em;margin-bottom:1em}' +
  '.toc{margin:.3em 0;padding-left:1.2em}.toc .l3{margin-left:1.2em;font-size:14px}h2{border-bottom:1px solid #ddd}' +
  '.m{display:inline-block;min-width:3.5em;font-weight:bold;color:#05a}.md p:first-child{margin-top:0}' +
  '.h{color:#666;font-size:12px}section{margin-top:1.5em}small{color:#666;font-weight:normal}' +
  '@media (max-width:40em){body{margin:.5em auto;padding:0 .6em;font-size:14px}h1{font-size:1.5em}}';
