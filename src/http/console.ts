import { readFileSync } from 'node:fs';
import type { WorkerContext } from '../context.js';
import { FIELDS, type Field } from '../filters/fields.js';
import { CONSOLE_SCRIPT } from './console-script.js';
import { docsNav, htmlPage } from './html-page.js';
import { addRoute, type RouteTable } from './router.js';

/** What the page needs to draw one filter input; built from the filter vocabulary, never by hand. */
export interface FormField {
  readonly name: string;
  readonly description: string;
  /** The vocabulary's example, decoded (as a person types it). */
  readonly example: string;
  /** A closed set: the page draws a select (multiple for lists); the value is what the query carries. */
  readonly options?: readonly { readonly value: string; readonly label: string }[];
  readonly multiple: boolean;
}

function options(f: Field): FormField['options'] {
  switch (f.kind) {
    case 'code':
    case 'code-list':
    case 'name-list':
      return Object.entries(f.codes).map(([code, name]) => ({ value: code, label: `${code} ${name}` }));
    case 'word-list':
      return f.values.map((v) => ({ value: v, label: v }));
    case 'any-of':
      return f.values?.map((v) => ({ value: v, label: v }));
    default:
      return undefined;
  }
}

export function formFields(): FormField[] {
  return FIELDS.map((f: Field) => {
    const opts = options(f);
    return {
      name: f.name,
      description: f.description.replace(/`/g, ''),
      example: decodeURIComponent(f.example.replace(/\+/g, ' ')),
      ...(opts === undefined ? {} : { options: opts }),
      multiple: opts !== undefined && f.kind !== 'code',
    };
  });
}

/** JSON inside a <script> element: `<` escaped so that no `</script>` (or `<!--`) can end it early. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

const BODY = `<h1>Live console</h1>
<p>Subscribe as a WebSocket client of this gateway and watch the matching events arrive. The filters are those of
<a href="/docs/spec" type="text/html"><code>GET /{api}/ws</code></a>; the gateway checks them exactly as for any client.</p>
<div class="cols"><div>
<form id="sub" autocomplete="on">
<div class="grid">
<label><span>Account id (<code>luna_account_id</code>)</span><input id="account" name="account" required spellcheck="false" placeholder="8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a"></label>
<label><span>Token (only with <code>SENDER_AUTH=jwt</code>)</span><input id="token" type="password" autocomplete="off" spellcheck="false"></label>
<label>API version<select id="api"><option value="2">2</option><option value="1">1</option></select></label>
</div>
<p><button id="subscribe" type="submit">Subscribe</button> <button id="stop" type="button" disabled>Stop</button>
<button id="pause" type="button" aria-pressed="false">Pause display</button></p>
<div id="error" class="err" role="alert" hidden></div>
<details id="filters-box" open><summary>Filters</summary><div id="filters" class="grid"></div>
<label>More parameters, as a query string<input id="extra" spellcheck="false" placeholder="tags=a,b&amp;user_data=x"></label></details>
</form>
</div><div>
<section id="status-panel"><h2>Host</h2><dl class="kv">
<dt>workers</dt><dd id="m-workers">-</dd><dt>open connections</dt><dd id="m-connections">-</dd>
<dt>deliveries/s</dt><dd id="m-deliveries">-</dd><dt>stream lag (s)</dt><dd id="m-lag">-</dd></dl>
<p class="h">From <a href="/metrics">/metrics</a>, every 2 s.</p></section>
<section id="events"><h2>Events</h2><dl class="kv">
<dt>state</dt><dd id="state">not subscribed</dd><dt>received</dt><dd id="count">0</dd><dt>rate (/s)</dt><dd id="rate">-</dd>
<dt>position</dt><dd id="position">-</dd></dl>
<p class="h" id="url"></p><div id="gaps"></div>
<h3>Latest</h3><pre id="latest">-</pre>
<h3>Recent</h3><ol id="recent" reversed></ol></section>
</div></div>`;

/** Wide screens: the form on the left, the host and the events beside it; narrow ones stack them. */
const STYLE =
  'body{max-width:110em}@media (min-width:64em){.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:2em}}' +
  '.cols section:first-child{margin-top:0}.cols h2{margin-top:0}' +
  '.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12em,1fr));gap:.5em 1em;margin:.5em 0}' +
  'label{display:flex;flex-direction:column;font-size:13px}input,select,button{font:inherit;padding:.25em}' +
  'select[multiple]{height:5.5em}.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}.kv dd{margin:0;font-weight:bold}' +
  '.err{background:#fee;border:1px solid #c33;padding:.5em;white-space:pre-wrap}#gaps p{background:#ffd;margin:.2em 0;padding:.2em .5em}' +
  '#recent{font:12px ui-monospace,monospace;padding-left:3em}#recent li{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}' +
  '#latest{max-height:28em}.paused #latest{opacity:.6}';

/**
 * GET /console: a live console for operators (one page, inline CSS and JS, nothing external), and
 * GET /console/client.js: the integrators' client (src/client/luna-client.ts, a module without
 * imports), served from this build, so the page reconnects and resumes with the same code.
 */
export function consoleRoutes(table: RouteTable, ctx: Pick<WorkerContext, 'log'>): void {
  const script = CONSOLE_SCRIPT.replace('__FIELDS__', () => scriptJson(formFields()));
  const page = htmlPage({ title: 'luna-sender: console', nav: docsNav(), toc: [], body: BODY, style: STYLE, script });
  addRoute(table, 'GET', '/console', (ex) => ex.send(200, 'text/html; charset=utf-8', page));

  let client: string | undefined;
  try {
    // The source map comment is dropped: the map is not served, and a browser would ask for it.
    client = readFileSync(new URL('../client/luna-client.js', import.meta.url), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  } catch (err) {
    ctx.log.warn({ err }, 'the console client (client/luna-client.js) is not installed: /console cannot subscribe');
  }
  if (client !== undefined) {
    const body = client;
    addRoute(table, 'GET', '/console/client.js', (ex) => ex.send(200, 'text/javascript; charset=utf-8', body));
  }
}
