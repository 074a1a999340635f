/**
 * Filter micro-benchmark: ns per evaluation of compiled predicates (on Facts) and of the
 * interpreter (on the raw event), compile time per filter, and the per-event cost of facts
 * extraction and msgpack encode/decode.
 *
 *   npx tsc -p . && node build/bench/micro/filters.js
 *
 * Each figure is the median of 5 timed runs after a warm-up run.
 */
import { pathToFileURL } from 'node:url';
import { compileFilter, decodeFacts, encodeFacts, extractFacts, type Facts, type Filter, interpretFilter, parseFilterQuery } from '../../src/filters/index.js';

export interface Row {
  name: string;
  query: string;
  /** ns per compiled predicate call on decoded Facts */
  compiledNs: number;
  /** ns per interpretFilter call on the raw event */
  interpretedNs: number;
  /** us per compileFilter call */
  compileUs: number;
  /** share of the benchmark events that pass (sanity: the shapes are not trivially false) */
  matchRate: number;
}

export interface FactsRow {
  op: string;
  nsPerEvent: number;
}

const HANDLER = '0f8fad5b-d9cb-469f-a165-70867728950e';
const RUNS = 5;

const SOURCES20 = Array.from({ length: 20 }, (_, i) => `camera-${i + 3}`).join(','); // events use camera-0..5
export const SHAPES: readonly { name: string; query: string }[] = [
  { name: 'empty', query: '' },
  { name: 'gender', query: 'gender=1' },
  { name: '3 conditions', query: 'gender=1&age__gte=30&age__lt=50' },
  { name: '5 conditions', query: 'gender=1&age__gte=30&age__lt=50&sources=camera-1,camera-3&liveness=1' },
  { name: '20-item list', query: `sources=${SOURCES20}` },
  { name: 'geo', query: 'geo_position=origin_longitude,37.4,origin_latitude,55.75,longitude_delta,0.2,latitude_delta,0.5' },
  { name: 'tags + colours', query: 'tags=vip,staff&upper_clothing_colors=red,blue,black' },
];

/** 16 events of realistic shape, varied so the predicates cannot be folded to a constant. */
export function benchEvents(): unknown[] {
  return Array.from({ length: 16 }, (_, i) => ({
    event_id: `557d54ec-29ad-4f3c-93b4-c9092ef125${String(i).padStart(2, '0')}`,
    source: `camera-${i % 6}`,
    stream_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    tags: i % 3 === 0 ? ['vip', 'staff'] : ['staff'],
    user_data: 'entrance',
    face_attributes: {
      basic_attributes: { age: 20 + i * 3, gender: i % 2, ethnicities: { predominant_ethnicity: 'asian', estimations: { asian: 0.9 } } },
      score: 1,
    },
    matches: [{ label: 'good guys', candidates: [{ similarity: 0.5 + i / 40, face: { face_id: 'x' } }] }],
    aggregate_estimations: {
      face: { attributes: { liveness: { prediction: i % 4 === 0 ? 'spoof' : 'real' }, emotions: { predominant_emotion: 'neutral' } } },
      body: {
        attributes: {
          basic_attributes: { apparent_gender: i % 3, apparent_age: 30 },
          upper_body: { upper_clothing: { colors: i % 2 ? ['red', 'white'] : ['green'] }, headwear: { state: 0 } },
          lower_body: { lower_garment: { type: 'trousers', colors: ['black'] } },
        },
      },
    },
    location: { city: 'Moscow', street: 'Tverskaya', geo_position: { longitude: 37.2 + i / 20, latitude: 55.75 } },
  }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ns per call of `body(i)`, median of RUNS runs of `n` calls, after one warm-up run. */
function timeNs(n: number, body: (i: number) => number): number {
  let sink = 0;
  const run = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += body(i);
    return Number(process.hrtime.bigint() - t0) / n;
  };
  run();
  const runs = Array.from({ length: RUNS }, run);
  if (sink === -1) console.log(sink); // keep `sink` alive
  return median(runs);
}

function parse(query: string): Filter {
  const r = parseFilterQuery(query, { maxListItems: 100 });
  if (!r.ok) throw new Error(r.detail);
  return r.filter;
}

export async function runFilterBench(): Promise<Row[]> {
  const raw = benchEvents();
  // Facts as a worker sees them: through msgpack.
  const facts: Facts[] = raw.map((e) => decodeFacts(encodeFacts(extractFacts(e, HANDLER))));
  const mask = raw.length - 1;
  const rows: Row[] = [];
  for (const { name, query } of SHAPES) {
    const f = parse(query);
    const p = compileFilter(f);
    const matched = facts.filter((x) => p(x)).length;
    rows.push({
      name,
      query,
      compiledNs: timeNs(2_000_000, (i) => (p(facts[i & mask]) ? 1 : 0)),
      interpretedNs: timeNs(200_000, (i) => (interpretFilter(f, raw[i & mask], HANDLER) ? 1 : 0)),
      compileUs: timeNs(2_000, () => (compileFilter(f) === p ? 1 : 0)) / 1000,
      matchRate: matched / facts.length,
    });
  }
  return rows;
}

export async function runFactsBench(): Promise<FactsRow[]> {
  const raw = benchEvents();
  const mask = raw.length - 1;
  const bytes = raw.map((e) => encodeFacts(extractFacts(e, HANDLER)));
  const extracted = raw.map((e) => extractFacts(e, HANDLER));
  return [
    { op: 'extractFacts', nsPerEvent: timeNs(200_000, (i) => (extractFacts(raw[i & mask], HANDLER).age === 1 ? 1 : 0)) },
    { op: 'encodeFacts', nsPerEvent: timeNs(200_000, (i) => encodeFacts(extracted[i & mask]).length) },
    { op: 'decodeFacts', nsPerEvent: timeNs(200_000, (i) => (decodeFacts(bytes[i & mask]).age === 1 ? 1 : 0)) },
    { op: 'facts bytes (mean)', nsPerEvent: bytes.reduce((a, b) => a + b.length, 0) / bytes.length },
  ];
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (c < 10 ? c.toFixed(2) : c.toFixed(1)) : c)))];
  const w = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ')} |`;
  return [line(cells[0]), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  const rows = await runFilterBench();
  console.log('\n### Filter evaluation (median of 5 runs)\n');
  console.log(
    table(
      ['filter', 'compiled ns/eval', 'interpreter ns/eval', 'speed-up', 'compile us', 'match rate'],
      rows.map((r) => [r.name, r.compiledNs, r.interpretedNs, `${(r.interpretedNs / r.compiledNs).toFixed(0)}x`, r.compileUs, r.matchRate]),
    ),
  );
  console.log('\n### Facts, per event (producer: extract + encode; worker: decode)\n');
  console.log(
    table(
      ['op', 'ns per event'],
      (await runFactsBench()).map((r) => [r.op, r.nsPerEvent]),
    ),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
