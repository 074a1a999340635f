import { Packr } from 'msgpackr';
import { FACT_PATHS, type FactKey, type PathFactKey } from './fields.js';

export type Scalar = string | number | boolean;

/**
 * What the filters test, extracted once per event by the producer and carried beside the event's
 * bytes (msgpack) so workers never parse the event. Each field is undefined when the event lacks it
 * (extractFacts and decodeFacts return every key, see FullFacts; encodeFacts writes only defined ones),
 * and holds the raw JSON value with its own type: nothing is coerced (a string "1" stays a string
 * and does not equal gender 1; `"prediction": 0` stays a number and does not match "spoof"). A
 * scalar slot holds only a string/number/boolean; a `strings` slot only an array, of which only the
 * string elements are kept (every array filter compares strings). Where each is read: FACT_PATHS.
 */
export type Facts = {
  /** the message's handler_id */
  handler_id?: Scalar;
  /** string `e.matches[].label` values */
  labels?: string[];
  /** highest number among `e.matches[].candidates[].similarity`; absent when there is none */
  similarity?: number;
} & { [K in PathFactKey]?: (typeof FACT_PATHS)[K] extends { strings: true } ? string[] : Scalar };

/** Every Facts key, derived ones first, then FACT_PATHS in its order. */
export const FACT_KEYS: readonly FactKey[] = ['handler_id', 'labels', 'similarity', ...(Object.keys(FACT_PATHS) as PathFactKey[])];

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

/**
 * Source of the extractor, generated once from FACT_PATHS: every shared prefix of the paths is
 * read once into a local (`const v3 = own(v1, "basic_attributes")`), then one object literal holds
 * every key in FACT_KEYS order (one hidden class for all Facts, see FullFacts). Keys enter the
 * source only through JSON.stringify. Measured on the reference event: ~1.1 us per extraction, as
 * the hand-written literal it replaces; without the shared prefixes it was ~2 us.
 */
function emitExtractor(): string {
  const locals = new Map<string, string>([['', 'e']]);
  const lines: string[] = [];
  const parentOf = (path: readonly string[]): string => {
    for (let i = 1; i < path.length; i++) {
      const key = path.slice(0, i).join('\0');
      if (locals.has(key)) continue;
      const name = `v${locals.size}`;
      lines.push(`  const ${name} = own(${locals.get(path.slice(0, i - 1).join('\0'))}, ${JSON.stringify(path[i - 1])});`);
      locals.set(key, name);
    }
    return locals.get(path.slice(0, -1).join('\0'))!;
  };
  const slots = (Object.keys(FACT_PATHS) as PathFactKey[]).map((k) => {
    const spec: { path: readonly string[]; strings?: true } = FACT_PATHS[k];
    const read = `own(${parentOf(spec.path)}, ${JSON.stringify(spec.path[spec.path.length - 1])})`;
    return `    ${JSON.stringify(k)}: ${spec.strings ? 'strings' : 'scalar'}(${read}),`;
  });
  return `return function extractFacts(e, handlerId, labels, similarity) {
${lines.join('\n')}
  return {
    handler_id: scalar(handlerId),
    labels: labels,
    similarity: similarity,
${slots.join('\n')}
  };
};`;
}

type Extract = (e: unknown, handlerId: unknown, labels: string[] | undefined, similarity: number | undefined) => FullFacts;
const extractPaths = new Function('own', 'scalar', 'strings', emitExtractor())(own, scalar, strings) as Extract;

/** Generated once: the decoded map's own properties, in FACT_KEYS order (one hidden class). */
const reshapeKeys = new Function(
  'own',
  `return function reshape(d) { return { ${FACT_KEYS.map((k) => `${JSON.stringify(k)}: own(d, ${JSON.stringify(k)})`).join(', ')} }; };`,
)(own) as (d: Obj) => Facts;

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
  return extractPaths(e, handlerId, labels, top);
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
  return reshapeKeys(v);
}
