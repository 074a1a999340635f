/**
 * A strict reader of the Prometheus text exposition format (0.0.4), as far as the gateway uses it:
 * it throws on anything `promtool check metrics` would flag in our output, so that a test fails on
 * a sample without HELP and TYPE, a HELP/TYPE pair naming different metrics, a counter without
 * `_total` (or a gauge with it), a non-base unit, a family given twice or split, or a histogram
 * whose buckets do not add up.
 */
export interface Family {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  /** Sample name plus sorted label text (`name{code="1000"}`) -> value. */
  readonly samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"$/;
/** Prometheus wants base units: seconds, bytes. */
const NON_BASE_UNIT = /_(ms|milliseconds|microseconds|us|ns|minutes|hours|kb|mb|kib|mib)(_|$)/;

function labels(text: string | undefined): string {
  if (text === undefined) return '';
  const inner = text.slice(1, -1);
  if (inner === '') throw new Error('empty label set {}');
  const pairs = inner.split(',').map((p) => {
    const m = LABEL.exec(p);
    if (!m) throw new Error(`bad label ${p}`);
    return [m[1], m[2]] as const;
  });
  const names = new Set(pairs.map(([k]) => k));
  if (names.size !== pairs.length) throw new Error(`duplicate label in ${text}`);
  return `{${pairs
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

function value(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Prometheus parses these case-insensitively (Go's ParseFloat); prom-client writes `Nan`.
  if (/^nan$/i.test(text)) return NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${text}`);
  return Number(text);
}

/** The sample names a family of this type may have. */
function sampleFamily(sample: string, families: Map<string, Family>, current: string | undefined): string {
  if (current === undefined) throw new Error(`sample ${sample} before any TYPE`);
  const f = families.get(current)!;
  if (f.type === 'histogram') {
    for (const s of ['_bucket', '_sum', '_count']) if (sample === current + s) return current;
  } else if (sample === current) return current;
  throw new Error(`sample ${sample} does not belong to ${f.type} ${current} (families must be contiguous, after their HELP and TYPE)`);
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  let help: { name: string; text: string } | undefined;
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // the format ignores empty lines (prom-client puts one between families)
    if (line.startsWith('# HELP ')) {
      const [, name, ...rest] = line.slice(2).split(' ');
      if (!NAME.test(name)) throw new Error(`bad metric name ${name}`);
      if (rest.join(' ').trim() === '') throw new Error(`empty HELP for ${name}`);
      if (help !== undefined) throw new Error(`HELP ${help.name} without a TYPE`);
      help = { name, text: rest.join(' ') };
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name, type, extra] = line.slice(2).split(' ');
      if (extra !== undefined) throw new Error(`bad TYPE line ${line}`);
      if (help === undefined) throw new Error(`TYPE ${name} without a HELP before it`);
      if (help.name !== name) throw new Error(`HELP names ${help.name} but TYPE names ${name}`);
      if (families.has(name)) throw new Error(`family ${name} given twice`);
      if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') throw new Error(`unexpected type ${type} for ${name}`);
      if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
      if (type !== 'counter' && name.endsWith('_total')) throw new Error(`${type} ${name} ends in _total`);
      if (NON_BASE_UNIT.test(name)) throw new Error(`${name} is not in base units`);
      families.set(name, { type, help: help.text, samples: new Map() });
      help = undefined;
      current = name;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment ${line}`);
    if (help !== undefined) throw new Error(`HELP ${help.name} without a TYPE`);
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line ${line}`);
    const family = families.get(sampleFamily(m[1], families, current))!;
    const key = m[1] + labels(m[2]);
    if (family.samples.has(key)) throw new Error(`sample ${key} given twice`);
    const v = value(m[3]);
    if (family.type === 'counter' && !(v >= 0)) throw new Error(`counter ${key} is ${v}`);
    family.samples.set(key, v);
  }
  if (help !== undefined) throw new Error(`HELP ${help.name} without a TYPE`);
  for (const [name, f] of families) {
    if (f.samples.size === 0) throw new Error(`family ${name} has no samples`);
    if (f.type === 'histogram') checkHistogram(name, f);
  }
  return families;
}

/** Each series of a histogram (its labels other than `le`) on its own: buckets, _sum, _count. */
function checkHistogram(name: string, f: Family): void {
  const series = new Map<string, { le: number; v: number }[]>();
  for (const [k, v] of f.samples) {
    if (!k.startsWith(`${name}_bucket{`)) continue;
    const rest = k
      .slice(`${name}_bucket`.length)
      .replace(/,?le="[^"]*"/, '')
      .replace('{,', '{');
    const key = rest === '{}' ? '' : rest;
    const list = series.get(key) ?? [];
    list.push({ le: value(/le="([^"]*)"/.exec(k)![1]), v });
    series.set(key, list);
  }
  if (series.size === 0) throw new Error(`histogram ${name} has no buckets`);
  for (const [labels, buckets] of series) {
    const what = `histogram ${name}${labels}`;
    if (buckets.at(-1)!.le !== Infinity) throw new Error(`${what} has no +Inf bucket last`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i].le > buckets[i - 1].le) || buckets[i].v < buckets[i - 1].v) throw new Error(`${what}: buckets out of order or not cumulative`);
    }
    const count = f.samples.get(`${name}_count${labels}`);
    if (count === undefined || !f.samples.has(`${name}_sum${labels}`)) throw new Error(`${what} lacks _sum or _count`);
    if (count !== buckets.at(-1)!.v) throw new Error(`${what}: _count ${count} differs from the +Inf bucket`);
  }
}

/** The value of one sample (`name` or `name{label="v"}`); throws when absent. */
export function sample(families: Map<string, Family>, key: string): number {
  for (const f of families.values()) {
    const v = f.samples.get(key);
    if (v !== undefined) return v;
  }
  throw new Error(`no sample ${key}`);
}
