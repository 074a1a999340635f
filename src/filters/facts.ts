import { Packr } from 'msgpackr';
import type { FactKey } from './fields.js';

export type Scalar = string | number | boolean;

/**
 * What the filters test, extracted once per event by the producer and carried beside the event's
 * bytes (msgpack) so workers never parse the event. Each field is absent when the event lacks it,
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

/** Sets `f[k]` only when defined, so absent fields are absent keys (small msgpack, no undefined). */
function put<K extends keyof Facts>(f: Facts, k: K, v: Facts[K] | undefined): void {
  if (v !== undefined) f[k] = v;
}

/** Extracts the facts of one event. Total: any JSON value (or anything else) gives some Facts. */
export function extractFacts(event: unknown, handlerId: string): Facts {
  const f: Facts = {};
  put(f, 'handler_id', scalar(handlerId));
  if (!isObj(event)) return f;
  put(f, 'source', scalar(own(event, 'source')));
  put(f, 'stream_id', scalar(own(event, 'stream_id')));

  const matches = own(event, 'matches');
  if (Array.isArray(matches)) {
    const labels: string[] = [];
    let top: number | undefined;
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
    f.labels = labels;
    put(f, 'similarity', top);
  }

  const basic = own(own(event, 'face_attributes'), 'basic_attributes');
  put(f, 'age', scalar(own(basic, 'age')));
  put(f, 'gender', scalar(own(basic, 'gender')));
  put(f, 'ethnicity', scalar(own(own(basic, 'ethnicities'), 'predominant_ethnicity')));

  const aggregate = own(event, 'aggregate_estimations');
  const face = own(own(aggregate, 'face'), 'attributes');
  put(f, 'liveness', scalar(own(own(face, 'liveness'), 'prediction')));
  put(f, 'deepfake', scalar(own(own(face, 'deepfake'), 'prediction')));
  put(f, 'mask', scalar(own(own(face, 'mask'), 'predominant_mask')));
  put(f, 'emotion', scalar(own(own(face, 'emotions'), 'predominant_emotion')));

  put(f, 'tags', strings(own(event, 'tags')));
  put(f, 'user_data', scalar(own(event, 'user_data')));

  const location = own(event, 'location');
  const geo = own(location, 'geo_position');
  put(f, 'lon', scalar(own(geo, 'longitude')));
  put(f, 'lat', scalar(own(geo, 'latitude')));
  put(f, 'city', scalar(own(location, 'city')));
  put(f, 'area', scalar(own(location, 'area')));
  put(f, 'district', scalar(own(location, 'district')));
  put(f, 'street', scalar(own(location, 'street')));
  put(f, 'house_number', scalar(own(location, 'house_number')));

  const body = own(own(aggregate, 'body'), 'attributes');
  const bodyBasic = own(body, 'basic_attributes');
  put(f, 'body_gender', scalar(own(bodyBasic, 'apparent_gender')));
  put(f, 'body_age', scalar(own(bodyBasic, 'apparent_age')));
  const upper = own(body, 'upper_body');
  const headwear = own(upper, 'headwear');
  put(f, 'headwear_state', scalar(own(headwear, 'state')));
  put(f, 'headwear_color', scalar(own(headwear, 'apparent_color')));
  put(f, 'sleeve_length', scalar(own(own(upper, 'sleeve'), 'length')));
  put(f, 'upper_colors', strings(own(own(upper, 'upper_clothing'), 'colors')));
  const lower = own(body, 'lower_body');
  const garment = own(lower, 'lower_garment');
  put(f, 'lower_type', scalar(own(garment, 'type')));
  put(f, 'lower_colors', strings(own(garment, 'colors')));
  put(f, 'shoes_color', scalar(own(own(lower, 'shoes'), 'apparent_color')));
  put(f, 'backpack_state', scalar(own(own(own(body, 'accessories'), 'backpack'), 'state')));
  return f;
}

// Maps as plain objects, no record extension: the bytes are self-describing, so a worker of
// another version (or a non-Node producer writing to the stream) can read them.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** msgpack of the defined fields. The result is a copy, not a view into msgpackr's scratch buffer. */
export function encodeFacts(f: Facts): Uint8Array {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f) as (keyof Facts)[]) {
    const v = f[k];
    if (v !== undefined) out[k] = v;
  }
  return Buffer.from(packr.pack(out));
}

/**
 * Decodes facts written by encodeFacts. Throws on bytes that are not one complete msgpack map
 * (truncated, trailing garbage, another type); the caller counts and skips the event. Values are
 * not type-checked here: every compiled predicate checks the type of what it reads.
 */
export function decodeFacts(b: Uint8Array): Facts {
  const v: unknown = packr.unpack(b);
  if (!isObj(v) || Object.getPrototypeOf(v) !== Object.prototype) throw new Error('facts are not a msgpack map');
  return v as Facts;
}
