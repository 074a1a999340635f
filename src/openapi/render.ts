import { stringify as toYaml } from 'yaml';
import { renderHtml } from './html.js';
import type { Json } from './schema.js';

/** The three forms /docs/spec offers, rendered once per worker at start-up. */
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
