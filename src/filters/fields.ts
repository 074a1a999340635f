/**
 * The one vocabulary of `/ws` filters (SPEC section 4, "Filters"). Every parameter appears here
 * exactly once; the query parser (params.ts), the source emitter (compile.ts) and the oracle
 * interpreter (interpret.ts) all switch on `kind`, so a parameter cannot exist in one of them and
 * not the others (TypeBox model: one vocabulary, two executions).
 *
 * `fact` names the key of `Facts` (facts.ts) that the compiled predicate tests; FACT_PATHS says
 * where in the event each fact is read, for the extractor and the interpreter alike.
 */

/** What a parameter's value is and how it holds against the event. */
export type FieldKind =
  /** list of UUIDs (any case in the query, normalised to lower case); event value in list. */
  | 'uuid-list'
  /** list of free strings; event value (a string) in list. */
  | 'string-list'
  /** list of integer codes in the query; the event carries the code's name, which must be in the list. */
  | 'name-list'
  /** list of integer codes; the event carries the number itself. */
  | 'code-list'
  /** list of lower-case names from a closed set (`values`); event value in list. */
  | 'word-list'
  /** list of strings (closed set when `values` is given); some element of the event's array is in list. */
  | 'any-of'
  /** one integer code; the event's number equals it. */
  | 'code'
  /** lower bound (`op: 'gte'`, inclusive) or upper bound (`op: 'lt'`, exclusive) on a number. */
  | 'bound'
  /** list of tags, each at most `maxLength` characters; every tag is in the event's array. */
  | 'tags'
  /** one string; the event's string contains it. */
  | 'substring'
  /** a box around an origin; the event's longitude/latitude lie within it. */
  | 'geo';

const FACE = ['aggregate_estimations', 'face', 'attributes'] as const;
const BODY = ['aggregate_estimations', 'body', 'attributes'] as const;
const BASIC = ['face_attributes', 'basic_attributes'] as const;

/**
 * Where each fact is read inside the event, as SPEC section 4 writes the paths (`strings`: the
 * value is a list, of which only the string elements are kept). The facts extractor (facts.ts) is
 * generated from this table and the interpreter (interpret.ts) walks it, so a filter on a new
 * event field is one entry here plus its row in FIELDS. Its order is the order of keys in Facts.
 */
export const FACT_PATHS = {
  source: { path: ['source'] },
  stream_id: { path: ['stream_id'] },
  age: { path: [...BASIC, 'age'] },
  gender: { path: [...BASIC, 'gender'] },
  ethnicity: { path: [...BASIC, 'ethnicities', 'predominant_ethnicity'] },
  liveness: { path: [...FACE, 'liveness', 'prediction'] },
  deepfake: { path: [...FACE, 'deepfake', 'prediction'] },
  mask: { path: [...FACE, 'mask', 'predominant_mask'] },
  emotion: { path: [...FACE, 'emotions', 'predominant_emotion'] },
  tags: { path: ['tags'], strings: true },
  user_data: { path: ['user_data'] },
  lon: { path: ['location', 'geo_position', 'longitude'] },
  lat: { path: ['location', 'geo_position', 'latitude'] },
  city: { path: ['location', 'city'] },
  area: { path: ['location', 'area'] },
  district: { path: ['location', 'district'] },
  street: { path: ['location', 'street'] },
  house_number: { path: ['location', 'house_number'] },
  body_gender: { path: [...BODY, 'basic_attributes', 'apparent_gender'] },
  body_age: { path: [...BODY, 'basic_attributes', 'apparent_age'] },
  headwear_state: { path: [...BODY, 'upper_body', 'headwear', 'state'] },
  headwear_color: { path: [...BODY, 'upper_body', 'headwear', 'apparent_color'] },
  sleeve_length: { path: [...BODY, 'upper_body', 'sleeve', 'length'] },
  upper_colors: { path: [...BODY, 'upper_body', 'upper_clothing', 'colors'], strings: true },
  lower_type: { path: [...BODY, 'lower_body', 'lower_garment', 'type'] },
  lower_colors: { path: [...BODY, 'lower_body', 'lower_garment', 'colors'], strings: true },
  shoes_color: { path: [...BODY, 'lower_body', 'shoes', 'apparent_color'] },
  backpack_state: { path: [...BODY, 'accessories', 'backpack', 'state'] },
} as const satisfies Record<string, { readonly path: readonly string[]; readonly strings?: true }>;

export type PathFactKey = keyof typeof FACT_PATHS;
/** Facts that are not one path: the message's handler_id, and the labels and top similarity
 * gathered from `event.matches[]` (facts.ts and interpret.ts compute them). */
export type DerivedFactKey = 'handler_id' | 'labels' | 'similarity';
/** Every key of Facts. */
export type FactKey = DerivedFactKey | PathFactKey;

interface Base {
  readonly name: string;
  readonly fact: FactKey;
  readonly description: string;
  /** A valid value as written in a query string (percent-encoded): shown in the README filter
   * table and the OpenAPI document, and parsed by the tests, so it cannot go stale. */
  readonly example: string;
}
export type Field =
  | (Base & { readonly kind: 'uuid-list' | 'string-list' })
  | (Base & { readonly kind: 'name-list' | 'code-list' | 'code'; readonly codes: Readonly<Record<number, string>> })
  | (Base & { readonly kind: 'word-list'; readonly values: readonly string[] })
  | (Base & { readonly kind: 'any-of'; readonly values?: readonly string[] })
  | (Base & {
      readonly kind: 'bound';
      readonly op: 'gte' | 'lt';
      readonly integer: boolean;
      readonly min: number;
      readonly max: number;
      /** the other bound of the same range: lower must be below upper. */
      readonly pair: string;
    })
  | (Base & { readonly kind: 'tags'; readonly maxLength: number })
  | (Base & { readonly kind: 'substring' })
  | (Base & { readonly kind: 'geo'; readonly latFact: FactKey });

export const SHORT_PALETTE = ['black', 'other', 'white', 'undefined'] as const;
export const EXPANDED_PALETTE = [
  'black',
  'blue',
  'green',
  'gray',
  'orange',
  'purple',
  'red',
  'white',
  'yellow',
  'pink',
  'brown',
  'beige',
  'khaki',
  'multicolored',
  'undefined',
] as const;
const STATES = { 0: 'absent', 1: 'present', 2: 'undefined' } as const;

/** SPEC section 4 table, in its order (also the order of keys in a normalised Filter). */
export const FIELDS = [
  {
    name: 'handler_ids',
    example: '8950722f-3fd4-4223-b48f-03f95f0e8dfb,346a5645-ec89-4806-820a-dbcb6e0dc38c',
    kind: 'uuid-list',
    fact: 'handler_id',
    description: "The message's `handler_id` is one of these.",
  },
  { name: 'sources', example: 'cam1,3rd+Avenue', kind: 'string-list', fact: 'source', description: '`event.source` is one of these.' },
  {
    name: 'stream_ids',
    example: '8950722f-3fd4-4223-b48f-03f95f0e8dfb',
    kind: 'uuid-list',
    fact: 'stream_id',
    description: '`event.stream_id` is one of these.',
  },
  { name: 'matching_candidates_labels', example: 'bad+guys,vip', kind: 'any-of', fact: 'labels', description: 'Some `event.matches[].label` is one of these.' },
  {
    name: 'object_similarity__gte',
    example: '0.5',
    kind: 'bound',
    op: 'gte',
    integer: false,
    min: 0,
    max: 1,
    pair: 'object_similarity__lt',
    fact: 'similarity',
    description: 'Top candidate similarity (the highest `event.matches[].candidates[].similarity`) >= value.',
  },
  {
    name: 'object_similarity__lt',
    example: '0.95',
    kind: 'bound',
    op: 'lt',
    integer: false,
    min: 0,
    max: 1,
    pair: 'object_similarity__gte',
    fact: 'similarity',
    description: 'Top candidate similarity < value.',
  },
  {
    name: 'age__gte',
    example: '18',
    kind: 'bound',
    op: 'gte',
    integer: true,
    min: 0,
    max: 200,
    pair: 'age__lt',
    fact: 'age',
    description: '`event.face_attributes.basic_attributes.age` >= value.',
  },
  {
    name: 'age__lt',
    example: '50',
    kind: 'bound',
    op: 'lt',
    integer: true,
    min: 0,
    max: 200,
    pair: 'age__gte',
    fact: 'age',
    description: '`event.face_attributes.basic_attributes.age` < value.',
  },
  {
    name: 'gender',
    example: '1',
    kind: 'code',
    codes: { 0: 'female', 1: 'male' },
    fact: 'gender',
    description: '`event.face_attributes.basic_attributes.gender` equals value.',
  },
  {
    name: 'ethnic_groups',
    example: '1,2',
    kind: 'name-list',
    codes: { 1: 'african_american', 2: 'asian', 3: 'caucasian', 4: 'indian' },
    fact: 'ethnicity',
    description: '`event.face_attributes.basic_attributes.ethnicities.predominant_ethnicity` (a name) is one of these.',
  },
  {
    name: 'liveness',
    example: '0,2',
    kind: 'name-list',
    codes: { 0: 'spoof', 1: 'real', 2: 'unknown' },
    fact: 'liveness',
    description: 'Face `liveness.prediction` (a name) is one of these.',
  },
  {
    name: 'deepfake',
    example: '0',
    kind: 'name-list',
    codes: { 0: 'fake', 1: 'real' },
    fact: 'deepfake',
    description: 'Face `deepfake.prediction` (a name) is one of these.',
  },
  {
    name: 'masks',
    example: '1,3',
    kind: 'name-list',
    codes: { 1: 'medical_mask', 2: 'missing', 3: 'occluded' },
    fact: 'mask',
    description: 'Face `mask.predominant_mask` (a name) is one of these.',
  },
  {
    name: 'emotions',
    example: '4,5',
    kind: 'name-list',
    codes: { 1: 'anger', 2: 'disgust', 3: 'fear', 4: 'happiness', 5: 'neutral', 6: 'sadness', 7: 'surprise' },
    fact: 'emotion',
    description: 'Face `emotions.predominant_emotion` (a name) is one of these.',
  },
  { name: 'tags', example: 'tag1,tag2', kind: 'tags', maxLength: 36, fact: 'tags', description: 'Every given tag is in `event.tags`.' },
  {
    name: 'user_data',
    example: 'some%20event',
    kind: 'substring',
    fact: 'user_data',
    description: '`event.user_data` contains the value (substring: `cd` matches `abcd`).',
  },
  {
    name: 'geo_position',
    example: 'origin_longitude,36.616,origin_latitude,55.752,longitude_delta,0.5',
    kind: 'geo',
    fact: 'lon',
    latFact: 'lat',
    description: '`event.location.geo_position` lies within the box |lon - X| <= DX, |lat - Y| <= DY; longitude wraps at ±180.',
  },
  { name: 'cities', example: 'Moscow,New-York', kind: 'string-list', fact: 'city', description: '`event.location.city` is one of these.' },
  { name: 'areas', example: 'CAO,central+park', kind: 'string-list', fact: 'area', description: '`event.location.area` is one of these.' },
  { name: 'districts', example: 'mitino', kind: 'string-list', fact: 'district', description: '`event.location.district` is one of these.' },
  { name: 'streets', example: 'arbat,schepkina', kind: 'string-list', fact: 'street', description: '`event.location.street` is one of these.' },
  { name: 'house_numbers', example: '1,1/2str3', kind: 'string-list', fact: 'house_number', description: '`event.location.house_number` is one of these.' },
  {
    name: 'apparent_gender',
    example: '0,2',
    kind: 'code-list',
    codes: { 0: 'female', 1: 'male', 2: 'undefined' },
    fact: 'body_gender',
    description: 'Body `basic_attributes.apparent_gender` (a number) is one of these.',
  },
  {
    name: 'apparent_age__gte',
    example: '10',
    kind: 'bound',
    op: 'gte',
    integer: true,
    min: 0,
    max: 100,
    pair: 'apparent_age__lt',
    fact: 'body_age',
    description: 'Body `basic_attributes.apparent_age` >= value.',
  },
  {
    name: 'apparent_age__lt',
    example: '60',
    kind: 'bound',
    op: 'lt',
    integer: true,
    min: 0,
    max: 100,
    pair: 'apparent_age__gte',
    fact: 'body_age',
    description: 'Body `basic_attributes.apparent_age` < value.',
  },
  {
    name: 'headwear_states',
    example: '1',
    kind: 'code-list',
    codes: STATES,
    fact: 'headwear_state',
    description: 'Body `upper_body.headwear.state` (a number) is one of these.',
  },
  {
    name: 'headwear_colors',
    example: 'black,white',
    kind: 'word-list',
    values: SHORT_PALETTE,
    fact: 'headwear_color',
    description: 'Body `upper_body.headwear.apparent_color` is one of these.',
  },
  {
    name: 'sleeve_lengths',
    example: 'short',
    kind: 'word-list',
    values: ['short', 'long', 'undefined'],
    fact: 'sleeve_length',
    description: 'Body `upper_body.sleeve.length` is one of these.',
  },
  {
    name: 'upper_clothing_colors',
    example: 'red,blue',
    kind: 'any-of',
    values: EXPANDED_PALETTE,
    fact: 'upper_colors',
    description: 'Some of body `upper_body.upper_clothing.colors` is one of these.',
  },
  {
    name: 'lower_garment_types',
    example: 'trousers,skirt',
    kind: 'word-list',
    values: ['trousers', 'shorts', 'skirt', 'undefined'],
    fact: 'lower_type',
    description: 'Body `lower_body.lower_garment.type` is one of these.',
  },
  {
    name: 'lower_garment_colors',
    example: 'black',
    kind: 'any-of',
    values: EXPANDED_PALETTE,
    fact: 'lower_colors',
    description: 'Some of body `lower_body.lower_garment.colors` is one of these.',
  },
  {
    name: 'shoes_colors',
    example: 'white',
    kind: 'word-list',
    values: SHORT_PALETTE,
    fact: 'shoes_color',
    description: 'Body `lower_body.shoes.apparent_color` is one of these.',
  },
  {
    name: 'backpack_states',
    example: '1,2',
    kind: 'code-list',
    codes: STATES,
    fact: 'backpack_state',
    description: 'Body `accessories.backpack.state` (a number) is one of these.',
  },
] as const satisfies readonly Field[];

export type ParamName = (typeof FIELDS)[number]['name'];

/** A geo box as normalised: origin and half-widths, in degrees. */
export interface GeoBox {
  readonly lon: number;
  readonly lat: number;
  readonly dlon: number;
  readonly dlat: number;
}

/** The normalised value of each kind in a Filter. */
export interface KindValue {
  'uuid-list': readonly string[];
  'string-list': readonly string[];
  'name-list': readonly string[];
  'code-list': readonly number[];
  'word-list': readonly string[];
  'any-of': readonly string[];
  code: number;
  bound: number;
  tags: readonly string[];
  substring: string;
  geo: GeoBox;
}

/** Lookup by name; a Map so that `__proto__` or `constructor` are simply absent. */
export const FIELD_BY_NAME: ReadonlyMap<string, Field> = new Map<string, Field>(FIELDS.map((f) => [f.name, f]));

/** `0 (female), 1 (male)`: the allowed codes for an error message. */
export function describeCodes(codes: Readonly<Record<number, string>>): string {
  return Object.entries(codes)
    .map(([c, n]) => `${c} (${n})`)
    .join(', ');
}
