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
  const title = `${String(info.title)} ${String(info.version)} API`;
  const body = `<h1>${escapeHtml(String(info.title))} <small>${escapeHtml(String(info.version))} (OpenAPI ${escapeHtml(String(doc.openapi))})</small></h1>
<p class="d">${escapeHtml(String(info.description ?? ''))}</p>
<p>The same document: <code>Accept: application/x-yaml</code> or <code>application/json</code> on <code>/docs/spec</code>.</p>
${out.join('\n')}`;
  return htmlPage({ title, nav: docsNav(), toc, body });
}
