/**
 * TypeBox schemas to OpenAPI 3.0 schema objects. The request and response schemas in the document
 * are the very objects that validate requests (src/http/schemas.ts), converted here, so the
 * document cannot drift from what the server checks.
 */

export type Json = Record<string, unknown>;

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

/** A TypeBox schema as an OpenAPI 3.0 schema object. */
export const schemaOf = (s: unknown): Json => toOas30(plain(s)) as Json;

/** A reference to a schema of `components.schemas`. */
export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
