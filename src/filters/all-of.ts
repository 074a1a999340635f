import { filterKey } from './key.js';
import type { Filter } from './params.js';

/**
 * A conjunction of normalised filters: an event passes when it passes every part. It is how a
 * token's `filter` claim (SPEC 10) narrows a subscriber's own filter without merging the two
 * field by field: an intersection is not always a Filter (two substrings, two geo boxes that wrap
 * the antimeridian, two `any-of` lists that must each meet the event's list), while a list of parts
 * is always exact, and the compiler emits the parts' conditions one after the other into one
 * predicate (compile.ts), so it costs what one filter with all their fields would.
 */
export interface FilterSet {
  /** The non-empty distinct parts, in key order; none: everything passes. */
  readonly parts: readonly Filter[];
  /**
   * Canonical: equal sets of parts give equal keys, whatever their order, so subscribers with the
   * same restriction and the same own filter share one compiled predicate and one topic. A single
   * part keys exactly as `filterKey` does (a subscriber without a restriction, or one whose filter
   * equals its restriction, shares the unrestricted topic); several parts key as a JSON array,
   * which no single filter's key (a JSON object) can equal.
   */
  readonly key: string;
}

export function allOf(...filters: readonly (Filter | undefined)[]): FilterSet {
  const byKey = new Map<string, Filter>();
  for (const f of filters) if (f !== undefined && Object.keys(f).length > 0) byKey.set(filterKey(f), f);
  const keys = [...byKey.keys()].sort();
  if (keys.length === 0) return { parts: [], key: filterKey({}) };
  if (keys.length === 1) return { parts: [byKey.get(keys[0])!], key: keys[0] };
  return { parts: keys.map((k) => byKey.get(k)!), key: `[${keys.join(',')}]` };
}
