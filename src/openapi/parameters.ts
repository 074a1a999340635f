import { UUID_RE } from '../events/index.js';
import type { Field } from '../filters/fields.js';
import type { Json } from './schema.js';

/**
 * The `/ws` query parameters, generated from the one filter vocabulary (src/filters/fields.ts)
 * that the parser and the compiler use, so the document lists exactly what the server accepts.
 */

export const UUID_PATTERN = UUID_RE.source;

function codeNote(codes: Readonly<Record<number, string>>): string {
  return Object.entries(codes)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
}

/**
 * A field's example (written as in a query string) as the typed value OpenAPI expects for `schema`:
 * lists become arrays, geo_position an object, numbers numbers.
 */
function exampleOf(raw: string, schema: Json): unknown {
  const decoded = decodeURIComponent(raw.replace(/\+/g, ' '));
  const scalar = (s: string, type: unknown) => (type === 'integer' || type === 'number' ? Number(s) : s);
  const items = decoded.split(',').map((x) => x.trim());
  if (schema.type === 'array') return items.map((x) => scalar(x, (schema.items as Json).type));
  if (schema.type === 'object') return Object.fromEntries(items.flatMap((k, i) => (i % 2 === 0 ? [[k, Number(items[i + 1])]] : [])));
  return scalar(decoded, schema.type);
}

/**
 * One query parameter. Lists are `style: form, explode: false` arrays, which is exactly the
 * comma-separated form; geo_position is a non-exploded form object, i.e. `key,value,key,value`.
 */
export function filterParameter(f: Field, maxListItems: number): Json {
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
  const p: Json = { name: f.name, in: 'query', required: false, description: f.description + note, schema, example: exampleOf(f.example, schema) };
  if (schema.type === 'array' || schema.type === 'object') {
    p.style = 'form';
    p.explode = false;
  }
  return p;
}
