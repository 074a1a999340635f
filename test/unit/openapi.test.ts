import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { defaultOf } from '../../src/config/schema.js';
import { CLOSE_CODE_TABLE, Errors } from '../../src/errors.js';
import { FIELDS } from '../../src/filters/fields.js';
import { SESSION_PARAMS } from '../../src/filters/params.js';
import { ErrorSchema, HealthSchema, PluginsSchema, publishBodySchema, VersionSchema } from '../../src/http/schemas.js';
import { buildOpenApi, renderSpec } from '../../src/openapi/index.js';

type Json = Record<string, any>;
const doc = buildOpenApi({ maxEvents: 1000 }) as Json;
const plain = (s: unknown) => JSON.parse(JSON.stringify(s));

/** Follows a local `$ref` (`#/components/...`). */
function deref(value: Json): Json {
  if (typeof value?.$ref !== 'string') return value;
  return value.$ref
    .slice(2)
    .split('/')
    .reduce((node: Json, key: string) => node[key], doc);
}

function* operations(d: Json = doc): Generator<[string, string, Json]> {
  for (const [path, item] of Object.entries(d.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) yield [path, method, op as Json];
  }
}

// SPEC section 2, one row per resource (plus the page /docs/dev redirects to, and the console).
const RESOURCES = [
  ['get', '/version'],
  ['get', '/{api}/ws'],
  ['post', '/{api}/publish'],
  ['get', '/docs/spec'],
  ['get', '/docs/dev'],
  ['get', '/docs/dev/index.html'],
  ['get', '/console'],
  ['get', '/console/client.js'],
  ['get', '/config'],
  ['get', '/plugins'],
  ['get', '/healthcheck'],
  ['get', '/health/live'],
  ['get', '/health/ready'],
  ['get', '/metrics'],
] as const;

// The filter vocabulary the parser uses (SPEC section 4).
const FILTERS = FIELDS.map((f) => f.name);

test('an OpenAPI 3.0.3 document with exactly the resources of SPEC section 2', () => {
  assert.equal(doc.openapi, '3.0.3');
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  const have = [...operations()].map(([p, m]) => `${m.toUpperCase()} ${p}`).sort();
  const want = RESOURCES.map(([m, p]) => `${m.toUpperCase()} ${p}`).sort();
  assert.deepEqual(have, want);
});

test('{api} is a path parameter with enum [1, 2] on both api paths', () => {
  for (const path of ['/{api}/ws', '/{api}/publish']) {
    const [op] = Object.values(doc.paths[path]) as Json[];
    const api = op.parameters.map(deref).find((p: Json) => p.in === 'path');
    assert.equal(api.name, 'api');
    assert.equal(api.required, true);
    assert.deepEqual(api.schema.enum, [1, 2]);
  }
});

test('every operation documents Luna-Request-Id, and every response returns it', () => {
  for (const [path, method, op] of operations()) {
    const params = op.parameters.map(deref);
    assert.ok(
      params.some((p: Json) => p.in === 'header' && p.name === 'Luna-Request-Id'),
      `${method} ${path}`,
    );
    for (const [status, r] of Object.entries(op.responses as Json)) {
      assert.ok(r.headers?.['Luna-Request-Id'], `${method} ${path} ${status}`);
    }
  }
});

test('the publish request body schema is the schema that validates publishes', () => {
  for (const maxEvents of [1000, 7]) {
    const d = buildOpenApi({ maxEvents }) as Json;
    const body = d.paths['/{api}/publish'].post.requestBody;
    assert.equal(body.required, true);
    const schema = body.content['application/json'].schema;
    const resolved = typeof schema.$ref === 'string' ? d.components.schemas[schema.$ref.split('/').pop()] : schema;
    assert.deepEqual(resolved, plain(publishBodySchema(maxEvents)));
    assert.equal(resolved.properties.events.maxItems, maxEvents);
  }
});

test('response schemas are the TypeBox schemas', () => {
  const responseSchema = (path: string, status: string) => deref(doc.paths[path].get.responses[status].content['application/json'].schema);
  assert.deepEqual(responseSchema('/version', '200'), plain(VersionSchema));
  assert.deepEqual(responseSchema('/healthcheck', '200'), plain(HealthSchema));
  assert.deepEqual(responseSchema('/healthcheck', '502'), plain(ErrorSchema));
  // PluginsSchema's literals are rewritten from `const` (JSON Schema 2020) to `enum` (OpenAPI 3.0).
  const plugins = responseSchema('/plugins', '200');
  assert.deepEqual(
    plugins.properties.plugins.items.properties.running.anyOf.map((s: Json) => s.enum),
    [[0], [1]],
  );
  assert.ok(!JSON.stringify(doc).includes('"const"'), 'no JSON Schema 2020 const in an OpenAPI 3.0 document');
  assert.deepEqual(Object.keys(plugins), Object.keys(plain(PluginsSchema)));
});

test('the publish operation answers 201, 400, 403, 413 and 503', () => {
  const responses = doc.paths['/{api}/publish'].post.responses;
  for (const status of ['201', '400', '403', '413', '503']) assert.ok(responses[status], status);
  const text = (status: string) => responses[status].description as string;
  for (const code of [11027, 12002, 12012, 12017, 12030]) assert.match(text('400'), new RegExp(`Error ${code} `));
  assert.match(text('403'), /Error 29001 /);
  assert.match(text('413'), /Error 12040 /);
  assert.match(text('503'), /Error 29005 /);
});

test('the ws operation: 101 with the message schema, and its error responses', () => {
  const responses = doc.paths['/{api}/ws'].get.responses;
  assert.equal(deref(responses['101'].content['application/json'].schema).properties['Luna-Request-id'].type, 'string');
  for (const status of ['400', '403', '404', '426', '503']) assert.ok(responses[status], status);
  assert.match(responses['426'].description, /Error 12012 /);
  assert.match(responses['503'].description, /Error 29006 /);
});

test('every error response refers to the error schema and names codes of the errors table', () => {
  const codes = new Set<number>(Object.values(Errors).map((e) => e.code));
  for (const [path, method, op] of operations()) {
    for (const [status, r] of Object.entries(op.responses as Json)) {
      if (Number(status) < 400) continue;
      assert.deepEqual(r.content['application/json'].schema, { $ref: '#/components/schemas/Error' }, `${method} ${path} ${status}`);
      const named = [...(r.description as string).matchAll(/Error (\d+) /g)].map((m) => Number(m[1]));
      assert.ok(named.length > 0, `${method} ${path} ${status} names no code`);
      for (const c of named) assert.ok(codes.has(c), `${method} ${path} ${status}: unknown code ${c}`);
    }
  }
  assert.deepEqual(deref({ $ref: '#/components/schemas/Error' }), plain(ErrorSchema));
});

test('every code of the errors table appears: in a response, or (wrong method) in the description', () => {
  const descriptions: string[] = [];
  for (const [, , op] of operations()) for (const r of Object.values(op.responses as Json)) descriptions.push(r.description);
  for (const [name, e] of Object.entries(Errors)) {
    assert.ok(doc.info.description.includes(`| ${e.code} | ${e.status} | ${e.desc} |`), `${name} missing from the info table`);
    const phrase = `Error ${e.code} (${e.desc})`;
    if (e === Errors.MethodNotAllowed) assert.ok(doc.info.description.includes(`Error ${e.code} (HTTP ${e.status}, ${e.desc})`), name);
    else
      assert.ok(
        descriptions.some((d) => d.includes(phrase)),
        `${name}: no response names ${phrase}`,
      );
  }
});

test('/ws documents every filter of SPEC section 4, the session parameters (account, positions, resume) and headers', () => {
  const params = doc.paths['/{api}/ws'].get.parameters.map(deref) as Json[];
  const query = params.filter((p) => p.in === 'query').map((p) => p.name);
  assert.deepEqual([...query].sort(), [...FILTERS, ...SESSION_PARAMS].sort());
  // Generated from the vocabulary the parser uses, in its order.
  assert.deepEqual(
    query.filter((n) => !(SESSION_PARAMS as readonly string[]).includes(n)),
    FIELDS.map((f) => f.name),
  );
  const headers = params.filter((p) => p.in === 'header').map((p) => p.name);
  assert.deepEqual(headers.sort(), ['Luna-Account-Id', 'Luna-Request-Id']);
  for (const p of params.filter((p) => p.in === 'query')) {
    assert.ok(p.description, p.name);
    if (p.schema.type === 'array' || p.schema.type === 'object') {
      // The comma-separated form: `a,b,c` / `key,value,key,value`.
      assert.equal(p.style, 'form', p.name);
      assert.equal(p.explode, false, p.name);
    }
  }
  const byName = Object.fromEntries(params.map((p) => [p.name, p]));
  assert.deepEqual(byName.liveness.schema.items.enum, [0, 1, 2]);
  assert.deepEqual(byName.gender.schema.enum, [0, 1]);
  assert.equal(byName.age__gte.schema.type, 'integer');
  assert.equal(byName.age__gte.schema.maximum, 200);
  assert.equal(byName.tags.schema.items.maxLength, 36);
  assert.match(byName.age__lt.description, /above `age__gte`/);
  assert.deepEqual(byName.geo_position.schema.required, ['origin_longitude', 'origin_latitude']);
  assert.equal(byName.upper_clothing_colors.schema.items.enum.length, 15);
  const publishHeaders = doc.paths['/{api}/publish'].post.parameters.map(deref).filter((p: Json) => p.in === 'header');
  assert.equal(publishHeaders.find((p: Json) => p.name === 'Luna-Account-Id').required, true);
});

test('the document is plain JSON: no symbol keys, nothing lost in a JSON round trip', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    assert.equal(Object.getOwnPropertySymbols(v).length, 0);
    Object.values(v).forEach(walk);
  };
  walk(doc);
});

test('renderSpec: the YAML parses back to the same object as the JSON', () => {
  const { yaml, json } = renderSpec(doc);
  assert.deepEqual(parseYaml(yaml), JSON.parse(json));
  assert.deepEqual(JSON.parse(json), doc);
  assert.match(yaml, /^openapi: 3\.0\.3$/m);
  assert.doesNotMatch(yaml, /^\s*[^#\n]*[:-] [&*]a\d+/m, 'no YAML anchors or aliases');
});

test('renderSpec: the HTML page lists every operation and is self-contained', () => {
  const { html } = renderSpec(doc);
  assert.match(html, /^<!DOCTYPE html>/);
  for (const [method, path] of RESOURCES) assert.ok(html.includes(`${method.toUpperCase()}</span> <code>${path}</code>`), `${method} ${path}`);
  for (const name of FILTERS) assert.ok(html.includes(`<code>${name}</code>`), name);
  // The one link is the empty favicon, so that browsers do not ask for /favicon.ico.
  assert.doesNotMatch(html, /<script|<link(?! rel="icon" href="data:,">)|src="http|href="http/i);
  assert.match(html, /id="schema-PublishRequest"/);
});

test('renderSpec: all text is escaped', () => {
  const evil = '<script>alert("x")</script> & \'q\'';
  const d = {
    openapi: '3.0.3',
    info: { title: evil, version: '1', description: evil },
    paths: {
      '/x<y>': {
        get: {
          summary: evil,
          description: evil,
          parameters: [{ name: evil, in: 'query', description: evil, schema: { type: 'string', enum: [evil] } }],
          responses: { '200': { description: evil, content: { 'text/plain': { schema: { type: 'string', description: evil } } } } },
        },
      },
    },
    components: { schemas: { [evil]: { description: evil } } },
  };
  const { html } = renderSpec(d);
  assert.ok(!html.includes('<script'), 'raw markup leaked');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;'));
  assert.ok(html.includes('/x&lt;y&gt;'));
});

test('limits and close codes in the text come from the config schema and the close-code table', () => {
  const ws = doc.paths['/{api}/ws'].get.description as string;
  for (const key of ['SENDER_MAX_INBOUND_FRAME', 'SENDER_MAX_BACKPRESSURE', 'SENDER_PING_INTERVAL'] as const) {
    assert.ok(ws.includes(`${key} (default ${defaultOf(key)})`), key);
  }
  for (const c of CLOSE_CODE_TABLE) assert.ok(ws.includes(`| ${c.code} |`), `close code ${c.code} missing from the /ws description`);
  const text = JSON.stringify(doc);
  for (const key of ['SENDER_MAX_BODY_BYTES', 'SENDER_MAX_CONNECTIONS', 'SENDER_REDIS_TIMEOUT', 'SENDER_MAX_EVENTS_PER_PUBLISH'] as const) {
    assert.ok(text.includes(`${key} (default ${defaultOf(key)})`), key);
  }
});

test('every filter parameter carries its vocabulary example, typed for its schema', () => {
  const params = doc.paths['/{api}/ws'].get.parameters.map(deref) as Json[];
  for (const f of FIELDS) {
    const p = params.find((x) => x.name === f.name)!;
    assert.notEqual(p.example, undefined, f.name);
    if (p.schema.type === 'array')
      assert.ok(Array.isArray(p.example) && p.example.every((x: unknown) => typeof x === (p.schema.items.type === 'string' ? 'string' : 'number')), f.name);
    else if (p.schema.type === 'object')
      assert.deepEqual(
        Object.keys(p.example).filter((k) => !(k in p.schema.properties)),
        [],
        f.name,
      );
    else assert.equal(typeof p.example, p.schema.type === 'string' ? 'string' : 'number', f.name);
  }
  assert.deepEqual(params.find((x) => x.name === 'sources')!.example, ['cam1', '3rd Avenue']);
});
