export { buildOpenApi, type OpenApiOptions } from './document.js';
export { renderSpec, type RenderedSpec } from './render.js';
