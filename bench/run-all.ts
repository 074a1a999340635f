import { dropStormOptions, printDropStorm, runDropStorm } from './drop-storm/run.js';
import { fanoutOptions, printFanout, runFanout } from './fanout/run.js';
import { handshakeOptions, printHandshake, runHandshake } from './handshake/run.js';
import { ingestOptions, printIngest, runIngest } from './ingest/run.js';
import { list, parseArgs } from './lib/args.js';
import { manyFiltersOptions, printManyFilters, runManyFilters } from './many-filters/run.js';
import { memoryOptions, printMemory, runMemory } from './memory/run.js';
import { positionsOptions, printPositions, runPositions } from './positions/run.js';
import { printPublish, publishOptions, runPublish } from './publish/run.js';
import { printResumeStorm, resumeStormOptions, runResumeStorm } from './resume-storm/run.js';
import { printScale, runScale, scaleOptions } from './scale/run.js';
import { printWorkers, runWorkers, workersOptions } from './workers/run.js';

/**
 * The one command (`npm run bench`): every benchmark with modest defaults (about 8-10 minutes on
 * 2 cores), one table each. Flags are passed through to every benchmark (see each run.ts), e.g.
 *   node build/bench/run-all.js --only fanout,memory --reps 5 --subs 5000 --find-max
 * By default the fan-out runs the filter mix, then the same load without filters (product vs
 * ceiling), then --find-max (B=1) with --find-subs (200) subscribers; 2 repetitions of fixed-rate runs.
 * The positions and storm benchmarks run smaller here than their own defaults (about 2 minutes
 * together): positions 3 rounds of 5 s each, resume storm away --storm-away (10) s, drop storm
 * --drop-seconds (30) s per variant; their own commands (bench/README.md) give the full sizes.
 * The scale benchmarks (issue 13) run in `--only scale` (about 8 minutes): the fair limit line
 * (product vs limit vs ceiling, 3 rounds), ingest (read, bridge), /publish B=1 from 3 processes,
 * 1 vs 2 workers, and --scale-subs (20000) subscriptions on one host; the 100k figure is
 * `node build/bench/scale/run.js` alone (bench/README.md).
 */
const args = parseArgs();
const only = new Set(list(args, 'only', ['fanout', 'many-filters', 'handshake', 'memory', 'publish', 'positions', 'resume-storm', 'drop-storm', 'scale']));
if (!args.has('reps')) args.set('reps', '2');
if (!args.has('find-max') && !args.has('no-find-max')) args.set('find-max', 'true');
if (!args.has('find-seconds')) args.set('find-seconds', '4');

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(`luna-sender benchmarks, ${new Date().toISOString()}, node ${process.version}\n`);
  if (only.has('fanout')) {
    // 1. The headline: the filter mix at a fixed rate, product vs ceiling vs baseline.
    const o = { ...fanoutOptions(args), findMax: false };
    const r = await runFanout(o);
    printFanout(o, r.rows, r.maxRows);
    // 2. The same load with no filters, so product and ceiling deliver identical frames in identical
    //    socket writes: what the product itself adds (the filter mix gives the product fewer frames
    //    per write, and the kernel's per-write cost dominates CPU per delivery).
    const same = { ...o, mix: 'none', servers: o.servers.filter((s) => s !== 'baseline') };
    const rs = await runFanout(same);
    printFanout(same, rs.rows, rs.maxRows);
    // 3. Find-max with B=1 and fewer subscribers, so the one load-generator core is not the limit.
    if (fanoutOptions(args).findMax) {
      const fm = { ...fanoutOptions(args), reps: 0, subs: Number(args.get('find-subs') ?? 200) };
      const rm = await runFanout(fm);
      printFanout(fm, rm.rows, rm.maxRows);
    }
  }
  if (only.has('many-filters')) {
    const o = manyFiltersOptions(args);
    printManyFilters(o, await runManyFilters(o));
  }
  if (only.has('handshake')) {
    const o = handshakeOptions(args);
    printHandshake(o, await runHandshake(o));
  }
  if (only.has('memory')) {
    const o = memoryOptions(args);
    printMemory(o, await runMemory(o));
  }
  if (only.has('publish')) {
    const o = publishOptions(args);
    printPublish(o, await runPublish(o));
  }
  if (only.has('positions')) {
    const o = { ...positionsOptions(args), reps: Number(args.get('positions-reps') ?? 3), seconds: Number(args.get('positions-seconds') ?? 5) };
    printPositions(o, await runPositions(o));
  }
  if (only.has('resume-storm')) {
    // --away, --subs and --rate mean other things to other benchmarks: storm-prefixed flags here.
    const m = new Map(args);
    m.set('away', args.get('storm-away') ?? '10');
    m.set('subs', args.get('storm-subs') ?? '2000');
    m.set('rate', args.get('storm-rate') ?? '100');
    m.set('batch', args.get('storm-batch') ?? '5');
    const o = resumeStormOptions(m);
    printResumeStorm(o, await runResumeStorm(o));
  }
  if (only.has('drop-storm')) {
    const m = new Map(args);
    m.set('seconds', args.get('drop-seconds') ?? '30');
    m.set('subs', args.get('drop-subs') ?? '200');
    m.set('rate', args.get('drop-rate') ?? '200');
    m.set('batch', args.get('drop-batch') ?? '5');
    m.delete('away');
    const o = dropStormOptions(m);
    printDropStorm(o, await runDropStorm(o));
  }
  if (only.has('scale')) await scaleSuite();
  process.stdout.write(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

/** Issue 13's tables, sized to run in about 8 minutes together. */
async function scaleSuite(): Promise<void> {
  // 1. The fair limit line: product vs the minimal uWS server making the same filtered deliveries,
  //    the unfiltered ceiling and the ws baseline (small events only for the baseline: its 10 KB run
  //    alone takes minutes), rounds interleaved.
  const fair = { ...fanoutOptions(args), servers: ['product', 'limit', 'ceiling'] as ('product' | 'limit' | 'ceiling')[], reps: 1, rounds: 3, findMax: false };
  const rf = await runFanout(fair);
  const rb = await runFanout({ ...fair, servers: ['baseline'], payloads: ['small'], rounds: 1 });
  printFanout(fair, [...rf.rows, ...rb.rows], []);
  // 2. Ingest: reading and filtering, and the LUNA bridge.
  const io = ingestOptions(args);
  printIngest(io, await runIngest(io));
  // 3. /publish at B=1 from several load processes.
  const m = new Map(args);
  m.set('batches', '1');
  m.set('servers', 'product');
  m.set('procs', args.get('publish-procs') ?? '3');
  m.set('connections', args.get('publish-connections') ?? '96');
  const po = publishOptions(m);
  printPublish(po, await runPublish(po));
  // 4. One vs two workers.
  const w = new Map(args);
  w.set('rounds', args.get('workers-rounds') ?? '2');
  const wo = workersOptions(w);
  printWorkers(wo, await runWorkers(wo));
  // 5. Many subscribers on one host (smaller than the 100k run: see bench/README.md).
  const s = new Map(args);
  s.set('subs', args.get('scale-subs') ?? '20000');
  s.set('events', args.get('scale-events') ?? '20');
  const so = scaleOptions(s);
  printScale(so, await runScale(so));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
