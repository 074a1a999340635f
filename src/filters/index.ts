export { extractFacts, encodeFacts, decodeFacts, type Facts, type Scalar } from './facts.js';
export {
  FIELDS, FIELD_BY_NAME, SHORT_PALETTE, EXPANDED_PALETTE, describeCodes,
  type Field, type FieldKind, type FactKey, type ParamName, type GeoBox, type KindValue,
} from './fields.js';
export { parseFilterQuery, paramValues, type Filter, type QueryLimits, type ParseResult } from './params.js';
export { filterKey, filterTopic } from './key.js';
export { compileFilter, emitFilter, type Predicate } from './compile.js';
export { interpretFilter } from './interpret.js';
