import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';
import { useChromium } from '../helpers/browser.js';
import { startGateway } from '../helpers/gateway.js';
import { type Answer, errorBody, http, REQUEST_ID } from '../helpers/http.js';

const browser = useChromium();
let gw: { url: string; stop(): Promise<void> };
before(async () => {
  gw = await startGateway({ SENDER_MAX_EVENTS_PER_PUBLISH: '17' });
});
after(() => gw.stop());

const spec = (accept?: string): Promise<Answer> => http(`${gw.url}/docs/spec`, accept === undefined ? {} : { headers: { Accept: accept } });

function isYamlSpec(a: Answer): void {
  assert.equal(a.status, 200, a.text);
  assert.equal(a.headers.get('content-type'), 'application/x-yaml');
  const doc = parseYaml(a.text);
  assert.equal(doc.openapi, '3.0.3');
  assert.ok(doc.paths['/{api}/publish']);
}

test('/docs/spec: application/x-yaml gives YAML', async () => {
  isYamlSpec(await spec('application/x-yaml'));
});

test('/docs/spec: application/yaml and text/yaml are synonyms of application/x-yaml', async () => {
  isYamlSpec(await spec('application/yaml'));
  isYamlSpec(await spec('text/yaml'));
});

test('/docs/spec: no Accept header, an empty one, or */* gives YAML', async () => {
  // fetch adds `Accept: */*` when none is given; send a raw request to really omit it.
  const { request } = await import('node:http');
  const raw = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = request(`${gw.url}/docs/spec`, { headers: {}, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(raw.status, 200);
  assert.equal(raw.type, 'application/x-yaml');
  assert.equal(parseYaml(raw.body).openapi, '3.0.3');
  isYamlSpec(await spec(''));
  isYamlSpec(await spec('*/*'));
});

test('/docs/spec: application/json gives the same document as JSON', async () => {
  const a = await spec('application/json');
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'application/json');
  const doc = a.json();
  assert.deepEqual(doc, parseYaml((await spec('application/x-yaml')).text));
  // The schema reflects this worker's configuration.
  assert.equal(doc.components.schemas.PublishRequest.properties.events.maxItems, 17);
});

test('/docs/spec: text/html gives a readable page', async () => {
  const a = await spec('text/html');
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(a.text, /^<!DOCTYPE html>/);
  assert.ok(a.text.includes('<code>/{api}/publish</code>'));
  assert.doesNotMatch(a.text, /<script/i);
});

test('/docs/spec as HTML renders the Markdown of the descriptions', async () => {
  const html = (await spec('text/html')).text;
  // The close-code table in the /ws description and the error table in the document's description.
  const ws = html.slice(html.indexOf('id="op-subscribe"'), html.indexOf('id="op-publish"'));
  assert.match(ws, /<table>\s*<thead>\s*<tr>\s*<th>code<\/th>/);
  assert.match(ws, /<code>SENDER_MAX_BACKPRESSURE<\/code>/);
  assert.doesNotMatch(html, /\|---\|/, 'no Markdown table left as text');
  assert.doesNotMatch(html, /`[A-Za-z_]+`/, 'no Markdown code span left as text');
});

test('/docs/spec as HTML shows schemas as tables of their properties, not JSON Schema', async () => {
  const html = (await spec('text/html')).text;
  const section = (id: string) => html.slice(html.indexOf(`id="schema-${id}"`), html.indexOf('</section>', html.indexOf(`id="schema-${id}"`)));
  const publish = section('PublishRequest');
  assert.match(publish, /<tr><th>property<\/th><th>type<\/th><th>required<\/th><th>description<\/th><th>constraints<\/th><\/tr>/);
  // maxItems comes from this worker's configuration (17).
  assert.match(publish, /<tr><td><code>events<\/code><\/td><td>array of object<\/td><td>yes<\/td><td>[^<]+<\/td><td>1\.\.17 items<\/td><\/tr>/);
  // Nested objects are flattened into dotted rows.
  assert.match(section('Version'), /<code>Version\.api<\/code><\/td><td>integer<\/td><td>yes<\/td>/);
  assert.match(
    section('Plugins'),
    /<code>plugins\[\]\.running<\/code><\/td><td>number<\/td><td>yes<\/td><td><\/td><td>one of <code>0<\/code>, <code>1<\/code>/,
  );
  assert.doesNotMatch(html, /&quot;(properties|required|type)&quot;:/, 'no raw JSON Schema');
});

test('the pages fit a phone screen: no horizontal scrolling at 390x844 in Chromium', async () => {
  const page = await browser().newPage({ viewport: { width: 390, height: 844 }, extraHTTPHeaders: { Accept: 'text/html' } });
  for (const path of ['/docs/spec', '/docs/dev/index.html', '/docs/dev/configuration.html', '/docs/dev/operations.html', '/console']) {
    const answer = await page.goto(`${gw.url}${path}`);
    assert.equal(answer?.status(), 200, path);
    assert.match(answer?.headers()['content-type'] ?? '', /^text\/html/, path);
    const [scrollWidth, innerWidth] = (await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]')) as [number, number];
    assert.ok(scrollWidth <= innerWidth, `${path}: ${scrollWidth} px wide in a ${innerWidth} px viewport`);
    assert.equal(await page.evaluate('document.querySelector(\'meta[name="viewport"]\')?.content'), 'width=device-width, initial-scale=1', path);
  }
  await page.close();
});

test('/docs/spec: q-values choose', async () => {
  assert.equal((await spec('application/x-yaml;q=0.5, application/json')).headers.get('content-type'), 'application/json');
  assert.match((await spec('application/json;q=0.2, text/html;q=0.9')).headers.get('content-type') ?? '', /^text\/html/);
  assert.equal((await spec('text/html;q=0.1, text/yaml;q=0.2')).headers.get('content-type'), 'application/x-yaml');
  assert.match((await spec('*/*;q=0.1, text/html')).headers.get('content-type') ?? '', /^text\/html/);
  assert.equal((await spec('text/html;q=0, */*')).headers.get('content-type'), 'application/x-yaml');
});

test('/docs/spec: text/plain is 415 with error 12024 naming the Accept value and the offer', async () => {
  const a = await spec('text/plain');
  assert.equal(a.status, 415);
  assert.equal(a.headers.get('content-type'), 'application/json');
  const b = errorBody(a);
  assert.equal(b.error_code, 12024);
  assert.equal(b.desc, 'Unsupported media type');
  assert.match(b.detail, /'text\/plain'/);
  for (const t of ['application/x-yaml', 'text/html', 'application/json']) assert.ok(b.detail.includes(t), b.detail);
  assert.ok(a.headers.get('luna-request-id'));
});

test('/docs/spec: a malformed Accept, or everything at q=0, is 415', async () => {
  for (const accept of ['garbage', 'text/html;q=5', '*/*;q=0', 'text/html;q=0, application/json;q=0, application/yaml;q=0']) {
    const a = await spec(accept);
    assert.equal(a.status, 415, accept);
    assert.equal(errorBody(a).error_code, 12024, accept);
  }
});

test('/docs/spec: the request id is echoed; a wrong method is 405', async () => {
  const a = await http(`${gw.url}/docs/spec`, { headers: { 'Luna-Request-Id': REQUEST_ID } });
  assert.equal(a.headers.get('luna-request-id'), REQUEST_ID);
  const b = await http(`${gw.url}/docs/spec`, { method: 'POST' });
  assert.equal(b.status, 405);
  assert.equal(errorBody(b).error_code, 12021);
});

test('/docs/dev redirects to /docs/dev/index.html', async () => {
  const a = await http(`${gw.url}/docs/dev`);
  assert.equal(a.status, 302);
  assert.equal(a.headers.get('location'), '/docs/dev/index.html');
  assert.ok(a.headers.get('luna-request-id'));
});

test('/docs/dev/ (trailing slash) redirects to /docs/dev/index.html like /docs/dev, instead of a 404', async () => {
  const a = await http(`${gw.url}/docs/dev/`);
  assert.equal(a.status, 302);
  assert.equal(a.headers.get('location'), '/docs/dev/index.html');
  assert.ok(a.headers.get('luna-request-id'));
});

test('/docs/dev/index.html is the development manual as HTML, with a table of contents', async () => {
  const a = await http(`${gw.url}/docs/dev/index.html`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(a.text, /^<!DOCTYPE html>/);
  assert.match(a.text, /<ul class="toc">/);
  assert.match(a.text, /<h2 id="[a-z0-9-]+">/);
  // Each contents entry points at a heading of the page.
  for (const [, id] of a.text.matchAll(/<li class="l[23]"><a href="#([^"]+)">/g)) assert.ok(a.text.includes(`id="${id}"`), id);
  assert.doesNotMatch(a.text, /<script|src="http/i);
});

test('/docs/dev also serves the configuration reference and the operations section of the README', async () => {
  const manual = (await http(`${gw.url}/docs/dev/index.html`)).text;
  for (const name of ['configuration', 'operations']) assert.ok(manual.includes(`<a href="/docs/dev/${name}.html">${name}</a>`), name);
  const config = await http(`${gw.url}/docs/dev/configuration.html`);
  assert.equal(config.status, 200);
  assert.match(config.text, /<h2 id="configuration">Configuration<\/h2>/);
  // Every key of the config schema is a row of the generated table.
  for (const key of Object.keys(ConfigSchema.properties)) assert.ok(config.text.includes(`<td><code>${key}</code></td>`), key);
  const ops = await http(`${gw.url}/docs/dev/operations.html`);
  assert.equal(ops.status, 200);
  assert.match(ops.text, /<h2 id="operations">Operations<\/h2>/);
  assert.match(ops.text, /<h3 id="rolling-restart">Rolling restart<\/h3>/);
  assert.doesNotMatch(ops.text, /<h2 id="performance">/, 'the section ends where the next one starts');
  // The pictures the pages show are served with them.
  assert.match(ops.text, /<img src="\/docs\/dev\/images\/console\.png"/);
  assert.match((await http(`${gw.url}/docs/dev/index.html`)).text, /<img src="images\/console\.png"/);
  const png = await http(`${gw.url}/docs/dev/images/console.png`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
});

test('the OpenAPI page and the manual share one page shell (head, styles, navigation)', async () => {
  const shell = (html: string) =>
    html
      .replace(/<title>[^<]*<\/title>/, '')
      .replace(/<\/nav>[\s\S]*$/, '')
      .replace(/<nav>[\s\S]*$/, '<nav>');
  const apiPage = (await spec('text/html')).text;
  const manual = (await http(`${gw.url}/docs/dev/index.html`)).text;
  assert.equal(shell(apiPage), shell(manual));
  for (const page of [apiPage, manual]) assert.match(page, /<nav><a href="\/docs\/dev\/index.html">manual<\/a>/);
});
