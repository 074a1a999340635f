import { type Filter, parseFilterQuery } from '../../src/filters/index.js';

/** What the filter unit tests share: limits, two handler UUIDs, a parser that throws on a bad query. */
export const LIMITS = { maxListItems: 100 };
export const U1 = '0f8fad5b-d9cb-469f-a165-70867728950e';
export const U2 = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

export function parse(query: string): Filter {
  const r = parseFilterQuery(query, LIMITS);
  if (!r.ok) throw new Error(`${query}: ${r.detail}`);
  return r.filter;
}

export const matches = (...m: unknown[]) => ({ matches: m });
