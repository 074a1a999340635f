import { Packr } from 'msgpackr';
import type { FactKey } from './fields.js';

export type Scalar = string | number | boolean;

/**
 * What the filters test, extracted once per event by the producer and carried beside the event's
 * bytes (msgpack) so workers never parse the event. Each field is undefined when the event lacks it
 * (extractFacts and decodeFacts return every key, see FullFacts; encodeFacts writes only defined ones),
 * and holds the raw JSON value with its own type: nothing is coerced (a string "1" stays a string
 * and does not equal gender 1; `"prediction": 0` stays a number and does not match "spoof"). A
 * scalar slot holds only a string/number/boolean; an array slot only an array, of which only the
 * string elements are kept (every array filter compares strings).
 */
export interface Facts {
  /** the message's handler_id */
  handler_id?: Scalar;
  source?: Scalar;
  stream_id?: Scalar;
  /** string `e.matches[].label` values */
  labels?: string[];
  /** highest number among `e.matches[].candidates[].similarity`; absent when there is none */
  similarity?: number;
  /** e.face_attributes.basic_attributes.* */
  age?: Scalar;
  gender?: Scalar;
  ethnicity?: Scalar;
  /** F = e.aggregate_estimations.face.attributes: F.liveness.prediction etc. */
  liveness?: Scalar;
  deepfake?: Scalar;
  mask?: Scalar;
  emotion?: Scalar;
  tags?: string[];
  user_data?: Scalar;
  /** e.location.geo_position.longitude / latitude */
  lon?: Scalar;
  lat?: Scalar;
  /** e.location.* */
  city?: Scalar;
  area?: Scalar;
  district?: Scalar;
  street?: Scalar;
  house_number?: Scalar;
  /** B = e.aggregate_estimations.body.attributes: B.basic_attributes.apparent_gender / apparent_age */
  body_gender?: Scalar;
  body_age?: Scalar;
  /** B.upper_body.headwear.state / apparent_color, B.upper_body.sleeve.length */
  headwear_state?: Scalar;
  headwear_color?: Scalar;
  sleeve_length?: Scalar;
  /** B.upper_body.upper_clothing.colors */
  upper_colors?: string[];
  /** B.lower_body.lower_garment.type / colors */
  lower_type?: Scalar;
  lower_colors?: string[];
  /** B.lower_body.shoes.apparent_color, B.accessories.backpack.state */
  shoes_color?: Scalar;
  backpack_state?: Scalar;
}

// Compile-time check that Facts and the vocabulary's FactKey name the same keys.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const factKeysAgree: Same<keyof Facts, FactKey> = true;
void factKeysAgree;

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Own property of a plain object, else undefined: never walks a prototype, never throws. */
function own(x: unknown, k: string): unknown {
  return isObj(x) && Object.hasOwn(x, k) ? x[k] : undefined;
}

function scalar(v: unknown): Scalar | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

function strings(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const x of v) if (typeof x === 'string') out.push(x);
  return out;
}

/**
 * Every Facts key, present (possibly undefined), always in this order: all Facts objects share one
 * hidden class, so the compiled predicates' property loads stay monomorphic. Measured (CPU profile
 * of the seeded property test, 40k events): adding only the defined keys, a different shape per
 * event, spent ~750 ms in extraction against ~100 ms for this literal, and made every predicate
 * load megamorphic.
 */
type FullFacts = { [K in FactKey]: Facts[K] | undefined };

/** Extracts the facts of one event. Total: any JSON value (or anything else) gives some Facts. */
export function extractFacts(event: unknown, handlerId: string): Facts {
  const e = isObj(event) ? event : undefined;
  const matches = own(e, 'matches');
  let labels: string[] | undefined;
  let top: number | undefined;
  if (Array.isArray(matches)) {
    labels = [];
    for (const m of matches) {
      const label = own(m, 'label');
      if (typeof label === 'string') labels.push(label);
      const cands = own(m, 'candidates');
      if (!Array.isArray(cands)) continue;
      for (const c of cands) {
        const s = own(c, 'similarity');
        if (typeof s === 'number' && (top === undefined || s > top)) top = s;
      }
    }
  }
  const basic = own(own(e, 'face_attributes'), 'basic_attributes');
  const aggregate = own(e, 'aggregate_estimations');
  const face = own(own(aggregate, 'face'), 'attributes');
  const location = own(e, 'location');
  const geo = own(location, 'geo_position');
  const body = own(own(aggregate, 'body'), 'attributes');
  const bodyBasic = own(body, 'basic_attributes');
  const upper = own(body, 'upper_body');
  const headwear = own(upper, 'headwear');
  const lower = own(body, 'lower_body');
  const garment = own(lower, 'lower_garment');
  const f: FullFacts = {
    handler_id: scalar(handlerId),
    source: scalar(own(e, 'source')),
    stream_id: scalar(own(e, 'stream_id')),
    labels,
    similarity: top,
    age: scalar(own(basic, 'age')),
    gender: scalar(own(basic, 'gender')),
    ethnicity: scalar(own(own(basic, 'ethnicities'), 'predominant_ethnicity')),
    liveness: scalar(own(own(face, 'liveness'), 'prediction')),
    deepfake: scalar(own(own(face, 'deepfake'), 'prediction')),
    mask: scalar(own(own(face, 'mask'), 'predominant_mask')),
    emotion: scalar(own(own(face, 'emotions'), 'predominant_emotion')),
    tags: strings(own(e, 'tags')),
    user_data: scalar(own(e, 'user_data')),
    lon: scalar(own(geo, 'longitude')),
    lat: scalar(own(geo, 'latitude')),
    city: scalar(own(location, 'city')),
    area: scalar(own(location, 'area')),
    district: scalar(own(location, 'district')),
    street: scalar(own(location, 'street')),
    house_number: scalar(own(location, 'house_number')),
    body_gender: scalar(own(bodyBasic, 'apparent_gender')),
    body_age: scalar(own(bodyBasic, 'apparent_age')),
    headwear_state: scalar(own(headwear, 'state')),
    headwear_color: scalar(own(headwear, 'apparent_color')),
    sleeve_length: scalar(own(own(upper, 'sleeve'), 'length')),
    upper_colors: strings(own(own(upper, 'upper_clothing'), 'colors')),
    lower_type: scalar(own(garment, 'type')),
    lower_colors: strings(own(garment, 'colors')),
    shoes_color: scalar(own(own(lower, 'shoes'), 'apparent_color')),
    backpack_state: scalar(own(own(own(body, 'accessories'), 'backpack'), 'state')),
  };
  return f;
}

/** Decoded map to the one Facts shape; own properties only. Values are not type-checked. */
function reshape(d: Obj): Facts {
  const f: { [K in FactKey]: unknown } = {
    handler_id: own(d, 'handler_id'),
    source: own(d, 'source'),
    stream_id: own(d, 'stream_id'),
    labels: own(d, 'labels'),
    similarity: own(d, 'similarity'),
    age: own(d, 'age'),
    gender: own(d, 'gender'),
    ethnicity: own(d, 'ethnicity'),
    liveness: own(d, 'liveness'),
    deepfake: own(d, 'deepfake'),
    mask: own(d, 'mask'),
    emotion: own(d, 'emotion'),
    tags: own(d, 'tags'),
    user_data: own(d, 'user_data'),
    lon: own(d, 'lon'),
    lat: own(d, 'lat'),
    city: own(d, 'city'),
    area: own(d, 'area'),
    district: own(d, 'district'),
    street: own(d, 'street'),
    house_number: own(d, 'house_number'),
    body_gender: own(d, 'body_gender'),
    body_age: own(d, 'body_age'),
    headwear_state: own(d, 'headwear_state'),
    headwear_color: own(d, 'headwear_color'),
    sleeve_length: own(d, 'sleeve_length'),
    upper_colors: own(d, 'upper_colors'),
    lower_type: own(d, 'lower_type'),
    lower_colors: own(d, 'lower_colors'),
    shoes_color: own(d, 'shoes_color'),
    backpack_state: own(d, 'backpack_state'),
  };
  return f as Facts;
}

// Maps as plain objects, no record extension: the bytes are self-describing, so a worker of
// another version (or a non-Node producer writing to the stream) can read them. Undefined values
// are skipped, so an absent field costs no bytes.
// (`skipValues` is documented in msgpackr's README but missing from its typings in 1.12.)
const packrOptions = { useRecords: false, mapsAsObjects: true, skipValues: [undefined] };
const packr = new Packr(packrOptions);

/** msgpack of the defined fields. The result is a copy, not a view into msgpackr's scratch buffer. */
export function encodeFacts(f: Facts): Uint8Array {
  return Buffer.from(packr.pack(f));
}

/**
 * Decodes facts written by encodeFacts. Throws on bytes that are not one complete msgpack map
 * (truncated, trailing garbage, another type); the caller counts and skips the event. Values are
 * not type-checked here: every compiled predicate checks the type of what it reads.
 */
export function decodeFacts(b: Uint8Array): Facts {
  const v: unknown = packr.unpack(b);
  if (!isObj(v) || Object.getPrototypeOf(v) !== Object.prototype) throw new Error('facts are not a msgpack map');
  return reshape(v);
}
