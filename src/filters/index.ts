export { allOf, type FilterSet } from './all-of.js';
export { compileFilter, emitFilter, type Predicate } from './compile.js';
export { decodeFacts, encodeFacts, extractFacts, FACT_KEYS, type Facts, type Scalar } from './facts.js';
export {
  describeCodes,
  EXPANDED_PALETTE,
  FACT_PATHS,
  type FactKey,
  FIELD_BY_NAME,
  FIELDS,
  type Field,
  type FieldKind,
  type GeoBox,
  type KindValue,
  type ParamName,
  SHORT_PALETTE,
} from './fields.js';
export { interpretFilter } from './interpret.js';
export { filterKey, filterTopic } from './key.js';
export { type Filter, type ParseResult, paramValues, parseFilterQuery, type QueryLimits, SESSION_PARAMS, type SessionParam } from './params.js';
