import { Marked } from 'marked';
import { docsNav, escapeHtml, htmlPage, type TocEntry } from '../http/html-page.js';
import type { Json } from './schema.js';

/**
 * The OpenAPI document as one readable HTML page (GET /docs/spec with Accept: text/html), in the
 * documentation's shared page shell. Rendered from the document object itself, not from the
 * code that builds it, so the page shows exactly what the YAML and JSON say.
 */

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

/**
 * Descriptions are Markdown (tables of codes, `code`, lists). Raw HTML in them is shown as text, not
 * passed through: the page stays exactly what the document says, and nothing in it can run.
 */
const md = new Marked({
  gfm: true,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
  },
});
const markdown = (text: unknown): string => (text === undefined || text === '' ? '' : `<div class="md">${md.parse(String(text), { async: false })}</div>`);
const markdownInline = (text: unknown): string => (text === undefined ? '' : md.parseInline(String(text), { async: false }));

/** The type of a schema in words: `integer`, `array of string`, a link to a named schema. */
function typeOf(s: Json | undefined): string {
  if (s === undefined) return 'any';
  const name = refName(s);
  if (name !== undefined) return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  if (Array.isArray(s.anyOf)) return [...new Set((s.anyOf as Json[]).map(typeOf))].join(' | ');
  if (s.type === 'array') return `array of ${typeOf(s.items as Json)}`;
  const format = typeof s.format === 'string' ? ` &lt;${escapeHtml(s.format)}&gt;` : '';
  return `${escapeHtml(String(s.type ?? 'any'))}${format}`;
}

/** What a value must also satisfy, in words: enum, ranges, sizes, pattern, default. */
function constraintsOf(s: Json | undefined): string {
  if (s === undefined) return '';
  const parts: string[] = [];
  const code = (v: unknown) => `<code>${escapeHtml(JSON.stringify(v))}</code>`;
  const enums = Array.isArray(s.enum) ? s.enum : Array.isArray(s.anyOf) ? (s.anyOf as Json[]).flatMap((a) => (Array.isArray(a.enum) ? a.enum : [])) : [];
  if (enums.length > 0) parts.push(`one of ${enums.map(code).join(', ')}`);
  if (s.minimum !== undefined) parts.push(`${s.exclusiveMinimum === true ? '&gt;' : '&ge;'} ${escapeHtml(String(s.minimum))}`);
  if (s.maximum !== undefined) parts.push(`${s.exclusiveMaximum === true ? '&lt;' : '&le;'} ${escapeHtml(String(s.maximum))}`);
  if (s.minItems !== undefined || s.maxItems !== undefined)
    parts.push(`${escapeHtml(String(s.minItems ?? 0))}..${escapeHtml(String(s.maxItems ?? '∞'))} items`);
  if (s.minLength !== undefined || s.maxLength !== undefined)
    parts.push(`${escapeHtml(String(s.minLength ?? 0))}..${escapeHtml(String(s.maxLength ?? '∞'))} chars`);
  if (typeof s.pattern === 'string') parts.push(`pattern <code>${escapeHtml(s.pattern)}</code>`);
  if (s.default !== undefined) parts.push(`default ${code(s.default)}`);
  const items = s.items as Json | undefined;
  if (s.type === 'array' && items !== undefined && refName(items) === undefined && !isObject(items)) {
    const inner = constraintsOf(items);
    if (inner !== '') parts.push(`each: ${inner}`);
  }
  if (s.additionalProperties === true) parts.push('any further keys');
  return parts.join('; ');
}

const isObject = (s: Json | undefined): boolean => s !== undefined && refName(s) === undefined && s.type === 'object' && s.properties !== undefined;

/** One row per property, nested objects flattened (`Version.api`, `plugins[].name`). */
function propertyRows(s: Json, prefix: string, out: string[]): void {
  const required = new Set((s.required as string[] | undefined) ?? []);
  for (const [name, v] of Object.entries((s.properties as Json | undefined) ?? {})) {
    const p = v as Json;
    const full = `${prefix}${name}`;
    out.push(
      `<tr><td><code>${escapeHtml(full)}</code></td><td>${typeOf(p)}</td><td>${required.has(name) ? 'yes' : 'no'}</td>` +
        `<td>${markdownInline(p.description)}</td><td>${constraintsOf(p)}</td></tr>`,
    );
    if (isObject(p)) propertyRows(p, `${full}.`, out);
    const items = p.items as Json | undefined;
    if (p.type === 'array' && isObject(items)) propertyRows(items!, `${full}[].`, out);
  }
}

/** A schema as people read it: a table of its properties, or its type and constraints in words. */
function schemaBlock(schema: unknown): string {
  const s = schema as Json | undefined;
  if (s === undefined) return '';
  if (refName(s) !== undefined) return typeOf(s);
  if (!isObject(s) || Object.keys(s.properties as Json).length === 0) {
    const c = constraintsOf(s);
    return `${typeOf(s)}${c === '' ? '' : ` (${c})`}${s.description ? ` ${markdownInline(s.description)}` : ''}`;
  }
  const rows: string[] = [];
  propertyRows(s, '', rows);
  const extra = constraintsOf(s);
  return (
    `${s.description ? markdown(s.description) : ''}<table class="schema"><tr><th>property</th><th>type</th><th>required</th><th>description</th><th>constraints</th></tr>` +
    `${rows.join('')}</table>${extra === '' ? '' : `<p class="h">${extra}</p>`}`
  );
}

function contentBlock(content: unknown): string {
  if (content === undefined) return '';
  return Object.entries(content as Json)
    .map(([type, media]) => `<div><code>${escapeHtml(type)}</code>: ${schemaBlock((media as Json).schema)}</div>`)
    .join('');
}

export function renderHtml(doc: Json): string {
  const info = doc.info as Json;
  const out: string[] = [];
  const toc: TocEntry[] = [];
  const paths = doc.paths as Json;
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Json | undefined;
      if (op === undefined) continue;
      const id = `op-${String(op.operationId ?? `${method}${path}`)}`;
      toc.push({ depth: 2, id, html: `<span class="m">${method.toUpperCase()}</span> ${escapeHtml(path)} ${escapeHtml(String(op.summary ?? ''))}` });
      out.push(`<section id="${escapeHtml(id)}"><h2><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h2>`);
      if (op.summary) out.push(`<p><strong>${escapeHtml(String(op.summary))}</strong></p>`);
      out.push(markdown(op.description));
      const params = ((op.parameters as unknown[] | undefined) ?? []).map((p) => resolve(doc, p)).filter((p): p is Json => p !== undefined);
      if (params.length > 0) {
        out.push('<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th>description</th><th>constraints</th></tr>');
        for (const p of params) {
          const schema = p.schema as Json | undefined;
          out.push(
            `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${p.required ? 'yes' : 'no'}</td>` +
              `<td>${typeOf(schema)}</td><td>${markdownInline(p.description)}</td><td>${constraintsOf(schema)}</td></tr>`,
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
          `<tr><td>${escapeHtml(status)}</td><td>${markdownInline(res.description)}` +
            `${headers ? `<div class="h">headers: ${escapeHtml(headers)}</div>` : ''}</td><td>${contentBlock(res.content)}</td></tr>`,
        );
      }
      out.push('</table></section>');
    }
  }
  const schemas = ((doc.components as Json | undefined)?.schemas as Json | undefined) ?? {};
  out.push('<h2 id="schemas">Schemas</h2>');
  toc.push({ depth: 2, id: 'schemas', html: 'Schemas' });
  for (const [name, s] of Object.entries(schemas)) {
    toc.push({ depth: 3, id: `schema-${name}`, html: escapeHtml(name) });
    out.push(`<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${schemaBlock(s)}</section>`);
  }
  const title = `${String(info.title)} ${String(info.version)} API`;
  const body = `<h1>${escapeHtml(String(info.title))} <small>${escapeHtml(String(info.version))} (OpenAPI ${escapeHtml(String(doc.openapi))})</small></h1>
${markdown(info.description)}
<p>The same document: <code>Accept: application/x-yaml</code> or <code>application/json</code> on <code>/docs/spec</code>.</p>
${out.join('\n')}`;
  return htmlPage({ title, nav: docsNav(), toc, body });
}
