import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startGateway } from '../helpers/gateway.js';
import { type Answer, errorBody, http, REQUEST_ID } from '../helpers/http.js';

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
