import { stringify as toYaml } from 'yaml';
import { Errors, type ErrorDef } from './errors.js';
import {
  ErrorSchema,
  EventMessageSchema,
  HealthSchema,
  PluginsSchema,
  PublishResponseSchema,
  VersionSchema,
  publishBodySchema,
} from './http/schemas.js';
import { FIELDS, type Field } from './filters/fields.js';
import { REQUEST_ID_RE, UUID_RE } from './events/index.js';
import { API_PREFIXES, PACKAGE_VERSION } from './version.js';

/**
 * The OpenAPI 3.0.3 document of SPEC section 2, served by GET /docs/spec. Request and response
 * schemas are the TypeBox objects that validate requests (src/http/schemas.ts), copied without
 * TypeBox's symbol keys, so the document cannot drift from what the server checks. Built once per
 * worker at start-up: nothing here is on a request path.
 */

type Json = Record<string, unknown>;

/** A JSON copy without TypeBox's symbol keys ([Kind], [Hint]); symbols do not survive JSON. */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

/**
 * JSON Schema 2020 keywords that OpenAPI 3.0 lacks, rewritten in place: `const` becomes a
 * one-value `enum`, numeric `exclusiveMinimum`/`exclusiveMaximum` the 3.0 boolean form. A schema
 * without them (the publish body) comes out unchanged, as the test checks.
 */
function toOas30(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toOas30);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === 'const') out.enum = [v];
    else if ((k === 'exclusiveMinimum' || k === 'exclusiveMaximum') && typeof v === 'number') {
      out[k === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = v;
      out[k] = true;
    } else out[k] = toOas30(v);
  }
  return out;
}

const schemaOf = (s: unknown): Json => toOas30(plain(s)) as Json;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

// ---------------------------------------------------------------------------------------------
// Errors: every error response points at the Error schema and names its codes from the table.

/** What a code means on the operation it is listed for (code and desc come from Errors), and the
 * HTTP status when the operation answers it with another than the table's (healthcheck: 502). */
type ErrorCase = readonly [ErrorDef, string, number?];

function errorResponses(cases: readonly ErrorCase[]): Json {
  const byStatus = new Map<number, string[]>();
  for (const [def, when, override] of cases) {
    const status = override ?? def.status;
    const lines = byStatus.get(status) ?? [];
    lines.push(`Error ${def.code} (${def.desc}): ${when}`);
    byStatus.set(status, lines);
  }
  const out: Json = {};
  for (const [status, lines] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: lines.join('\n'),
      headers: { 'Luna-Request-Id': { $ref: '#/components/headers/LunaRequestId' } },
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  return out;
}

/** Cases every operation shares: the request id check (router) and the catch-all for bugs. */
const COMMON_ERRORS: readonly ErrorCase[] = [
  [Errors.BadQueryOrHeader, "malformed 'Luna-Request-Id' header, or a repeated 'Luna-Account-Id', 'Luna-Request-Id', 'Content-Length' or 'Transfer-Encoding' line"],
  [Errors.Internal, 'anything unexpected; the detail never carries a stack'],
];

/** Cases of the `{api}` paths: a prefix other than 1 or 2 is an unknown path. */
const API_PREFIX_ERRORS: readonly ErrorCase[] = [[Errors.NotFound, `'{api}' other than ${API_PREFIXES.join(' or ')}: unknown path`]];

const ACCOUNT_ERRORS = (verb: string): readonly ErrorCase[] => [
  [Errors.Forbidden, `no 'Luna-Account-Id' (detail: Cannot ${verb} events without 'Luna-Account-Id' header set)`],
  [Errors.BadQueryOrHeader, "malformed 'Luna-Account-Id' (not a UUID)"],
];

/** Codes that belong to no single operation; listed in the document's description. */
const GLOBAL_ERRORS: readonly ErrorCase[] = [
  [Errors.NotFound, 'unknown path'],
  [Errors.MethodNotAllowed, 'known path, wrong method; the Allow header lists the right ones'],
];

function ok(description: string, content?: Json, headers: Json = {}): Json {
  const r: Json = { description, headers: { 'Luna-Request-Id': { $ref: '#/components/headers/LunaRequestId' }, ...headers } };
  if (content !== undefined) r.content = content;
  return r;
}

// ---------------------------------------------------------------------------------------------
// The /ws filter vocabulary: generated from the one table the parser and the compiler use.
const UUID_PATTERN = UUID_RE.source;

function codeNote(codes: Readonly<Record<number, string>>): string {
  return Object.entries(codes)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
}

/**
 * One query parameter. Lists are `style: form, explode: false` arrays, which is exactly the
 * comma-separated form; geo_position is a non-exploded form object, i.e. `key,value,key,value`.
 */
function filterParameter(f: Field, maxListItems: number): Json {
  const list = (items: Json): Json => ({ type: 'array', items, minItems: 1, maxItems: maxListItems });
  const codes = (c: Readonly<Record<number, string>>): Json => ({ type: 'integer', enum: Object.keys(c).map(Number) });
  let schema: Json;
  let note = '';
  switch (f.kind) {
    case 'uuid-list':
      schema = list({ type: 'string', format: 'uuid', pattern: UUID_PATTERN });
      break;
    case 'string-list':
      schema = list({ type: 'string', minLength: 1 });
      break;
    case 'any-of':
    case 'word-list':
      schema = list(f.values === undefined ? { type: 'string', minLength: 1 } : { type: 'string', enum: [...f.values] });
      break;
    case 'tags':
      schema = list({ type: 'string', minLength: 1, maxLength: f.maxLength });
      break;
    case 'substring':
      schema = { type: 'string', minLength: 1 };
      break;
    case 'bound':
      schema = { type: f.integer ? 'integer' : 'number', minimum: f.min, maximum: f.max };
      note = ` Must be ${f.op === 'gte' ? 'below' : 'above'} \`${f.pair}\` when both are given.`;
      break;
    case 'code':
      schema = codes(f.codes);
      note = ` Codes: ${codeNote(f.codes)}.`;
      break;
    case 'code-list':
      schema = list(codes(f.codes));
      note = ` Codes: ${codeNote(f.codes)}.`;
      break;
    case 'name-list':
      schema = list(codes(f.codes));
      note = ` Codes, matched against the name the event carries: ${codeNote(f.codes)}.`;
      break;
    case 'geo':
      schema = {
        type: 'object',
        required: ['origin_longitude', 'origin_latitude'],
        additionalProperties: false,
        properties: {
          origin_longitude: { type: 'number', minimum: -180, maximum: 180 },
          origin_latitude: { type: 'number', minimum: -90, maximum: 90 },
          longitude_delta: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 180, default: 0.01 },
          latitude_delta: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 90, default: 0.01 },
        },
      };
      note = ' Written `origin_longitude,X,origin_latitude,Y[,longitude_delta,DX][,latitude_delta,DY]`, pairs in any order.';
      break;
  }
  const p: Json = { name: f.name, in: 'query', required: false, description: f.description + note, schema };
  if (schema.type === 'array' || schema.type === 'object') {
    p.style = 'form';
    p.explode = false;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------

const DESCRIPTION = `Real-time event gateway for camera networks, compatible with the VisionLabs LUNA Sender API.

Every response carries \`Luna-Request-Id\`: the request's own when valid, else a new \`{unix seconds},{uuid4}\`.
\`{api}\` is 1 or 2; both behave identically. Error bodies are \`{"error_code": int, "desc": str, "detail": str}\`;
when several things are wrong the first of these is reported: \`Luna-Request-Id\`, the account, the query
parameters in the order given, the body.

Error codes:

| code | HTTP | desc |
|---|---|---|
${Object.values(Errors)
  .map((e) => `| ${e.code} | ${e.status} | ${e.desc} |`)
  .join('\n')}

${GLOBAL_ERRORS.map(([d, when]) => `Error ${d.code} (HTTP ${d.status}, ${d.desc}) on any resource: ${when}.`).join('\n')}`;

export interface OpenApiOptions {
  /** SENDER_MAX_EVENTS_PER_PUBLISH: the publish body schema depends on it. */
  maxEvents: number;
  /** SENDER_MAX_LIST_ITEMS: the most items of one list filter (default 100, as SPEC section 4). */
  maxListItems?: number;
}

export function buildOpenApi(opts: OpenApiOptions): object {
  const maxListItems = opts.maxListItems ?? 100;
  const common = [{ $ref: '#/components/parameters/LunaRequestId' }];
  const api = [{ $ref: '#/components/parameters/Api' }];
  const json = (schema: Json) => ({ 'application/json': { schema } });

  const paths: Json = {
    '/version': {
      get: {
        operationId: 'getVersion',
        tags: ['info'],
        summary: 'Versions of the service',
        description: 'Numbers from package.json; `api` is the newest API generation served.',
        parameters: common,
        responses: { '200': ok('Versions.', json(ref('Version'))), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/{api}/ws': {
      get: {
        operationId: 'subscribe',
        tags: ['events'],
        summary: 'Subscribe to events (WebSocket)',
        description:
          'A WebSocket upgrade. Headers and every query parameter are validated before the upgrade: a bad one gets an ' +
          'ordinary HTTP error response, never a 101. An unknown parameter, a parameter given twice and an empty value are ' +
          'errors (12012). Omitted parameters do not restrict; all given ones must hold. Lists are comma-separated, items ' +
          `trimmed, duplicates ignored, at most ${maxListItems} items. An event that lacks the field a filter tests does ` +
          'not pass it. After the 101 the server sends one text frame per matching event (schema EventMessage); client ' +
          'frames are ignored (a message over 16384 bytes closes the connection without a close frame); a slow consumer is closed with 4008; shutdown closes with 1001.',
        parameters: [
          ...api,
          ...common,
          {
            name: 'Luna-Account-Id',
            in: 'header',
            required: false,
            description: 'Account whose events to receive. Required, here or as the `luna_account_id` query parameter; the header wins when both are valid.',
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
          {
            name: 'luna_account_id',
            in: 'query',
            required: false,
            description: 'The account, for clients that cannot set headers (browsers). Validated even when the header is present.',
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
          ...FIELDS.map((f) => filterParameter(f, maxListItems)),
        ],
        responses: {
          '101': ok('Switching Protocols. Then one WebSocket text frame per matching event, each an EventMessage; the event is delivered byte-for-byte as published.', json(ref('EventMessage'))),
          ...errorResponses([
            ...COMMON_ERRORS,
            ...ACCOUNT_ERRORS('subscribe for'),
            [Errors.BadQueryOrHeader, 'bad query parameter: unknown, repeated, empty, outside its enum or range, or an impossible range; the detail names it and what is allowed'],
            ...API_PREFIX_ERRORS,
            [Errors.UpgradeRequired, 'a plain GET without a WebSocket upgrade (detail: websocket upgrade required)'],
            [Errors.TooManyConnections, 'this worker holds SENDER_MAX_CONNECTIONS connections'],
          ]),
        },
      },
    },
    '/{api}/publish': {
      post: {
        operationId: 'publish',
        tags: ['events'],
        summary: 'Publish user-generated events',
        description:
          'Answered only after the whole batch is durably in the bus. Each delivered message carries this request\'s ' +
          '`Luna-Request-Id`; events of one request are delivered in list order. If the bus cannot take the batch, nothing of it is delivered (503).',
        parameters: [
          ...api,
          ...common,
          {
            name: 'Luna-Account-Id',
            in: 'header',
            required: true,
            description: 'Account the events belong to; only its subscribers receive them.',
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
        ],
        requestBody: { required: true, content: json(ref('PublishRequest')) },
        responses: {
          '201': ok('Published: the number of events appended to the bus.', json(ref('PublishResponse'))),
          ...errorResponses([
            ...COMMON_ERRORS,
            [Errors.BadJsonSchema, "the body fails the schema (detail like Failed to validate input json. Path: 'handler_id', message: 'field required')"],
            [Errors.BadJson, 'the body is not JSON'],
            [Errors.BadContentType, 'Content-Type is not application/json'],
            [Errors.EmptyBody, 'empty body'],
            ...ACCOUNT_ERRORS('publish'),
            ...API_PREFIX_ERRORS,
            [Errors.BodyTooLarge, 'body over SENDER_MAX_BODY_BYTES (answered at once when Content-Length says so); the body is discarded up to 1 MiB past the limit, then the connection closes'],
            [Errors.Unavailable, 'the bus cannot take the publish now (Redis down or slower than SENDER_REDIS_TIMEOUT); nothing was published'],
          ]),
        },
      },
    },
    '/docs/spec': {
      get: {
        operationId: 'getSpec',
        tags: ['docs'],
        summary: 'This OpenAPI document',
        description:
          'Negotiated on Accept (q-values honoured): `application/x-yaml` (synonyms `application/yaml`, `text/yaml`) gives YAML, ' +
          '`text/html` a readable page, `application/json` JSON. No Accept header or `*/*` gives YAML.',
        parameters: common,
        responses: {
          '200': ok('The document.', {
            'application/x-yaml': { schema: { type: 'string' } },
            'text/html': { schema: { type: 'string' } },
            'application/json': { schema: { type: 'object' } },
          }),
          ...errorResponses([...COMMON_ERRORS, [Errors.UnsupportedMediaType, 'Accept allows none of the offered types (a malformed Accept allows none)']]),
        },
      },
    },
    '/docs/dev': {
      get: {
        operationId: 'getDevManual',
        tags: ['docs'],
        summary: 'Development manual (redirect)',
        parameters: common,
        responses: {
          '302': ok('Redirect to the manual.', undefined, {
            Location: { description: 'Always `/docs/dev/index.html`.', schema: { type: 'string', enum: ['/docs/dev/index.html'] } },
          }),
          ...errorResponses(COMMON_ERRORS),
        },
      },
    },
    '/docs/dev/index.html': {
      get: {
        operationId: 'getDevManualIndex',
        tags: ['docs'],
        summary: 'Development manual',
        description: 'Architecture, project layout, build/test/benchmark, filters, bus and plugins, as one HTML page.',
        parameters: common,
        responses: { '200': ok('The manual.', { 'text/html': { schema: { type: 'string' } } }), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/config': {
      get: {
        operationId: 'getConfig',
        tags: ['info'],
        summary: 'Effective configuration',
        description:
          'Every password, token or secret (also inside a Redis URL) is shown as `********`. `Accept: text/plain` gives ' +
          '`KEY = value` lines (nested keys joined with dots); no Accept header gives JSON.',
        parameters: common,
        responses: {
          '200': ok('The configuration.', {
            'application/json': { schema: { type: 'object', additionalProperties: true } },
            'text/plain': { schema: { type: 'string' } },
          }),
          ...errorResponses([...COMMON_ERRORS, [Errors.UnsupportedMediaType, 'Accept allows neither application/json nor text/plain']]),
        },
      },
    },
    '/plugins': {
      get: {
        operationId: 'getPlugins',
        tags: ['info'],
        summary: 'Loaded plugins',
        description: '`running` is 0 for a plugin that failed to load or whose hook threw.',
        parameters: common,
        responses: { '200': ok('The plugins.', json(ref('Plugins'))), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/healthcheck': {
      get: {
        operationId: 'getHealth',
        tags: ['info'],
        summary: 'Health of the service',
        description: 'PINGs Redis within SENDER_REDIS_TIMEOUT when Redis is the bus.',
        parameters: common,
        responses: {
          '200': ok('Healthy.', json(ref('Health'))),
          ...errorResponses([...COMMON_ERRORS, [Errors.Unavailable, 'a check failed (answered with HTTP 502); the detail names what failed (redis: connection refused)', 502]]),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'getMetrics',
        tags: ['info'],
        summary: 'Prometheus metrics',
        description: 'Connections, subscriptions, distinct filters, events in, deliveries, drops, slow-consumer closes, stream lag, publish latency.',
        parameters: common,
        responses: { '200': ok('Prometheus text exposition format 0.0.4.', { 'text/plain': { schema: { type: 'string' } } }), ...errorResponses(COMMON_ERRORS) },
      },
    },
  };

  return {
    openapi: '3.0.3',
    info: { title: 'luna-sender', version: PACKAGE_VERSION, description: DESCRIPTION },
    tags: [
      { name: 'events', description: 'Subscribing and publishing.' },
      { name: 'info', description: 'Service information.' },
      { name: 'docs', description: 'Documentation.' },
    ],
    paths,
    components: {
      schemas: {
        PublishRequest: schemaOf(publishBodySchema(opts.maxEvents)),
        PublishResponse: schemaOf(PublishResponseSchema),
        EventMessage: schemaOf(EventMessageSchema),
        Error: schemaOf(ErrorSchema),
        Version: schemaOf(VersionSchema),
        Health: schemaOf(HealthSchema),
        Plugins: schemaOf(PluginsSchema),
      },
      parameters: {
        Api: {
          name: 'api',
          in: 'path',
          required: true,
          description: 'API generation; both are served with identical behaviour. Any other value is a 404 (12013).',
          schema: { type: 'integer', enum: API_PREFIXES.map(Number) },
        },
        LunaRequestId: {
          name: 'Luna-Request-Id',
          in: 'header',
          required: false,
          description: 'External request id, `{unix seconds},{uuid4}`; returned in the response and in every log line of the request. Malformed: 400 (12012).',
          schema: { type: 'string', pattern: REQUEST_ID_RE.source },
          example: '1536751345,8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a',
        },
      },
      headers: {
        LunaRequestId: {
          description: "The request's own id when it sent a valid one, else a new one.",
          schema: { type: 'string', pattern: REQUEST_ID_RE.source },
        },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Renderings.

export interface RenderedSpec {
  readonly yaml: string;
  readonly json: string;
  readonly html: string;
}

export function renderSpec(doc: object): RenderedSpec {
  return {
    // No anchors/aliases: shared objects are written out in full, as in the JSON.
    yaml: toYaml(doc, { aliasDuplicateObjects: false, lineWidth: 0 }),
    json: JSON.stringify(doc),
    html: renderHtml(doc as Json),
  };
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** `#/components/x/Name` -> the object there, or undefined. */
function resolve(doc: Json, value: unknown): Json | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const r = (value as Json).$ref;
  if (typeof r !== 'string') return value as Json;
  let node: unknown = doc;
  for (const part of r.replace(/^#\//, '').split('/')) node = (node as Json | undefined)?.[part];
  return node as Json | undefined;
}

const refName = (value: unknown): string | undefined => {
  const r = (value as Json | undefined)?.$ref;
  return typeof r === 'string' ? r.slice(r.lastIndexOf('/') + 1) : undefined;
};

/** A one-line summary of a parameter schema: `array of integer (0, 1, 2), 1..100 items`. */
function typeLine(s: Json | undefined): string {
  if (s === undefined) return '';
  const parts: string[] = [];
  if (s.type === 'array') parts.push(`comma-separated list of ${typeLine(s.items as Json)}`);
  else if (s.type === 'object' && s.properties) {
    const req = new Set((s.required as string[] | undefined) ?? []);
    const props = Object.entries(s.properties as Json).map(([k, v]) => `${k}${req.has(k) ? '' : '?'}: ${typeLine(v as Json)}`);
    parts.push(`{${props.join('; ')}}`);
  } else parts.push(String(s.type ?? 'any'));
  if (typeof s.format === 'string') parts.push(`<${s.format}>`);
  if (Array.isArray(s.enum)) parts.push(`(${s.enum.map((v) => JSON.stringify(v)).join(', ')})`);
  if (s.minimum !== undefined || s.maximum !== undefined) {
    const lo = s.minimum === undefined ? '' : `${s.exclusiveMinimum === true ? '>' : '>='} ${s.minimum}`;
    const hi = s.maximum === undefined ? '' : `${s.exclusiveMaximum === true ? '<' : '<='} ${s.maximum}`;
    parts.push(`[${[lo, hi].filter(Boolean).join(', ')}]`);
  }
  if (s.maxItems !== undefined) parts.push(`at most ${s.maxItems} items`);
  if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} chars`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.join(' ');
}

function schemaBlock(schema: unknown): string {
  const name = refName(schema);
  if (name !== undefined) return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  return `<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`;
}

function contentBlock(content: unknown): string {
  if (content === undefined) return '';
  return Object.entries(content as Json)
    .map(([type, media]) => `<div><code>${escapeHtml(type)}</code>: ${schemaBlock((media as Json).schema)}</div>`)
    .join('');
}

function renderHtml(doc: Json): string {
  const info = doc.info as Json;
  const out: string[] = [];
  const toc: string[] = [];
  const paths = doc.paths as Json;
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Json | undefined;
      if (op === undefined) continue;
      const id = `op-${String(op.operationId ?? `${method}${path}`)}`;
      toc.push(`<li><a href="#${escapeHtml(id)}"><span class="m">${method.toUpperCase()}</span> ${escapeHtml(path)}</a> ${escapeHtml(String(op.summary ?? ''))}</li>`);
      out.push(`<section id="${escapeHtml(id)}"><h2><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2>`);
      if (op.summary) out.push(`<p><strong>${escapeHtml(String(op.summary))}</strong></p>`);
      if (op.description) out.push(`<p class="d">${escapeHtml(String(op.description))}</p>`);
      const params = ((op.parameters as unknown[] | undefined) ?? []).map((p) => resolve(doc, p)).filter((p): p is Json => p !== undefined);
      if (params.length > 0) {
        out.push('<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th></tr>');
        for (const p of params) {
          out.push(
            `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${p.required ? 'yes' : 'no'}</td>` +
              `<td>${escapeHtml(typeLine(p.schema as Json))}</td><td>${escapeHtml(String(p.description ?? ''))}</td></tr>`,
          );
        }
        out.push('</table>');
      }
      const body = op.requestBody as Json | undefined;
      if (body !== undefined) out.push(`<h3>Request body${body.required ? ' (required)' : ''}</h3>${contentBlock(body.content)}`);
      out.push('<h3>Responses</h3><table><tr><th>status</th><th>description</th><th>content</th></tr>');
      for (const [status, r] of Object.entries(op.responses as Json)) {
        const res = r as Json;
        const headers = Object.keys((res.headers as Json | undefined) ?? {}).join(', ');
        out.push(
          `<tr><td>${escapeHtml(status)}</td><td class="d">${escapeHtml(String(res.description ?? ''))}` +
            `${headers ? `<div class="h">headers: ${escapeHtml(headers)}</div>` : ''}</td><td>${contentBlock(res.content)}</td></tr>`,
        );
      }
      out.push('</table></section>');
    }
  }
  const schemas = ((doc.components as Json | undefined)?.schemas as Json | undefined) ?? {};
  out.push('<h2>Schemas</h2>');
  for (const [name, s] of Object.entries(schemas)) {
    out.push(`<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(s, null, 2))}</pre></section>`);
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(String(info.title))} ${escapeHtml(String(info.version))} API</title>
<style>${CSS}</style></head><body>
<h1>${escapeHtml(String(info.title))} <small>${escapeHtml(String(info.version))} (OpenAPI ${escapeHtml(String(doc.openapi))})</small></h1>
<p class="d">${escapeHtml(String(info.description ?? ''))}</p>
<p>The same document: <code>Accept: application/x-yaml</code> or <code>application/json</code> on <code>/docs/spec</code>.</p>
<h2>Resources</h2><ul>${toc.join('')}</ul>
${out.join('\n')}
</body></html>
`;
}

const CSS =
  'body{font:15px/1.5 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}' +
  'code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.6em;overflow:auto}' +
  'table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}' +
  'th{background:#eee}.m{display:inline-block;min-width:3.5em;font-weight:bold;color:#05a}.d{white-space:pre-wrap}' +
  '.h{color:#666;font-size:12px}section{border-top:1px solid #ddd;margin-top:1.5em}small{color:#666;font-weight:normal}';
