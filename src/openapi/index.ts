export { buildOpenApi, type OpenApiOptions } from './document.js';
export { type RenderedSpec, renderSpec } from './render.js';
