import type { Facts } from './facts.js';
import { FIELDS, type Field, type GeoBox } from './fields.js';
import type { Filter } from './params.js';

export type Predicate = (facts: Facts) => boolean;

/**
 * Lists up to this long are emitted as inline `===` chains, longer ones as a Set passed in through
 * `externals`. Measured on Node 20 (2 vCPU, loaded, so roughly): against decoded (not internalised)
 * strings, one `===` took ~10 ns vs ~16-20 ns for Set#has, two or three were even and four lost
 * (~27 vs ~12-26 ns); against numbers a chain of up to four `===` beat Set#has (~5-12 vs 8-19 ns).
 */
const INLINE_MAX_STRINGS = 2;
const INLINE_MAX_NUMBERS = 4;
const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The only way a constant enters generated source: a string or a finite number, via JSON. */
function lit(x: unknown): string {
  if (typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) return JSON.stringify(x);
  throw new TypeError(`filter constant must be a string or a finite number, got ${typeof x}`);
}

function member(obj: string, key: string): string {
  return IDENT_RE.test(key) ? `${obj}.${key}` : `${obj}[${JSON.stringify(key)}]`;
}

class Emitter {
  readonly externals: unknown[] = [];
  readonly prelude: string[] = [];
  private n = 0;

  /** A name in the closure holding `value`, which the generated code only reads. */
  external(value: unknown): string {
    const name = `e${this.externals.length}`;
    this.prelude.push(`const ${name} = externals[${this.externals.length}];`);
    this.externals.push(value);
    return name;
  }

  helper(source: (name: string) => string): string {
    const name = `h${this.n++}`;
    this.prelude.push(source(name));
    return name;
  }

  /** A test "`v` is one of `list`" (strict equality, so the type matches too), reusable for any `v`. */
  oneOf(list: readonly (string | number)[]): (v: string) => string {
    const inlineMax = typeof list[0] === 'number' ? INLINE_MAX_NUMBERS : INLINE_MAX_STRINGS;
    if (list.length <= inlineMax) {
      const lits = list.map(lit);
      return (v) => `(${lits.map((x) => `${v} === ${x}`).join(' || ')})`;
    }
    for (const x of list) lit(x);
    const set = this.external(new Set(list));
    return (v) => `${set}.has(${v})`;
  }
}

const typeOf = (v: string, t: 'string' | 'number') => `typeof ${v} === "${t}"`;

/** The condition of one parameter, over the local `v` holding its fact (and `w` for latitude). */
function emit(field: Field, value: unknown, e: Emitter): string {
  switch (field.kind) {
    case 'uuid-list': {
      // Query UUIDs are lower case; the event's is tried as is first, so only a miss pays toLowerCase.
      const inList = e.oneOf(value as string[]);
      return `${typeOf('v', 'string')} && (${inList('v')} || (v = v.toLowerCase(), ${inList('v')}))`;
    }
    case 'string-list':
    case 'name-list':
    case 'word-list':
      return `${typeOf('v', 'string')} && ${e.oneOf(value as string[])('v')}`;
    case 'code-list':
      return `${typeOf('v', 'number')} && ${e.oneOf(value as number[])('v')}`;
    case 'code':
      return `v === ${lit(value)}`;
    case 'bound':
      return `${typeOf('v', 'number')} && v ${field.op === 'gte' ? '>=' : '<'} ${lit(value)}`;
    case 'any-of': {
      const inList = e.oneOf(value as string[]);
      const h = e.helper(
        (name) => `function ${name}(a) { for (let i = 0; i < a.length; i++) { const x = a[i]; if (${inList('x')}) return true; } return false; }`,
      );
      return `Array.isArray(v) && ${h}(v)`;
    }
    case 'tags': {
      const list = value as string[];
      if (list.length <= INLINE_MAX_STRINGS) return `Array.isArray(v) && ${list.map((t) => `v.includes(${lit(t)})`).join(' && ')}`;
      for (const t of list) lit(t);
      const all = e.external([...list]);
      const h = e.helper((name) => `function ${name}(a) { for (let i = 0; i < ${all}.length; i++) if (!a.includes(${all}[i])) return false; return true; }`);
      return `Array.isArray(v) && ${h}(v)`;
    }
    case 'substring':
      return `${typeOf('v', 'string')} && v.includes(${lit(value)})`;
    case 'geo': {
      const g = value as GeoBox;
      // Longitude distance wraps: |d| mod 360, folded into 0..180 (same formula as interpret.ts).
      const h = e.helper(
        (name) =>
          `function ${name}(lon, lat) { if (!(Math.abs(lat - ${lit(g.lat)}) <= ${lit(g.dlat)})) return false; ` +
          `let d = Math.abs(lon - ${lit(g.lon)}) % 360; if (d > 180) d = 360 - d; return d <= ${lit(g.dlon)}; }`,
      );
      return `${typeOf('v', 'number')} && ${typeOf('w', 'number')} && ${h}(v, w)`;
    }
  }
}

/**
 * The generated source, for tests and debugging: `(externals) => predicate`. A list of filters is
 * their conjunction (all-of.ts): each part's conditions follow the previous part's in one body.
 */
export function emitFilter(filter: Filter | readonly Filter[]): { source: string; externals: unknown[] } {
  const e = new Emitter();
  const body: string[] = [];
  const parts: readonly Filter[] = Array.isArray(filter) ? filter : [filter as Filter];
  for (const f of parts) {
    const given = f as Readonly<Record<string, unknown>>;
    for (const field of FIELDS as readonly Field[]) {
      if (!Object.hasOwn(given, field.name) || given[field.name] === undefined) continue;
      const cond = emit(field, given[field.name], e);
      body.push(`v = ${member('f', field.fact)};`);
      if (field.kind === 'geo') body.push(`w = ${member('f', field.latFact)};`);
      body.push(`if (!(${cond})) return false;`);
    }
  }
  const source = ['"use strict";', ...e.prelude, 'return function predicate(f) {', '  let v, w;', ...body.map((l) => `  ${l}`), '  return true;', '};'].join(
    '\n',
  );
  return { source, externals: e.externals };
}

/**
 * Compiles a normalised filter into a predicate over Facts (at subscribe time; the predicate runs
 * per event). A field that is missing or of the wrong type never passes; an empty filter passes
 * everything. The predicate never throws on any Facts value.
 */
export function compileFilter(f: Filter | readonly Filter[]): Predicate {
  const { source, externals } = emitFilter(f);
  return new Function('externals', source)(externals) as Predicate;
}
