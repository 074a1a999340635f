import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from './log.js';
import type { Family, FamilyValue } from './metrics.js';

/**
 * Host-wide /metrics without the process manager's help (the supervisor and PM2 alike: under PM2
 * the instances have no common parent). Every worker serving a port writes a snapshot of its own
 * figures to `/dev/shm/luna-sender-<port>/<id>.json` (os.tmpdir() where /dev/shm is missing),
 * atomically (write, then rename), once a second and whenever it answers a scrape. The answering
 * worker sums its live figures with every other snapshot of the port, series by series (histograms
 * bucket by bucket), using only files: a scrape never waits on another process, so it answers even
 * while a worker is stuck or restarting.
 *
 * - A snapshot whose pid is alive and that is at most STALE_MS old is `live`; older (a stuck or
 *   SIGSTOPped worker) it is `stale` and still counted as it last was: `luna_sender_workers{state}`.
 * - A worker that exits writes a final snapshot; a worker that was killed leaves its last one. Both
 *   keep counting (counters and histograms only, not gauges), so host counters never go backwards
 *   when a worker goes. Whoever sees such snapshots folds them into `retired.json` under a lock
 *   file (O_EXCL; one taken longer than LOCK_STALE_MS ago is broken): the lock holder rewrites
 *   retired.json (rename) listing the folded snapshot ids, then deletes their files. Readers read
 *   the snapshots first and retired.json second, and skip snapshots it lists, so a fold running
 *   meanwhile is counted exactly once, and a folder that dies half-way leaves nothing counted twice.
 * - A worker that starts while no other worker of the port is live clears the directory: the
 *   whole service started over, which Prometheus sees as a counter reset anyway.
 * - Process figures (prom-client's default metrics: CPU, memory, event-loop delay, GC) are per
 *   worker, labelled `worker` = pid, and only for workers alive now; a sum of them or the pid of
 *   whoever answered would mean nothing host-wide. The answering worker's pid is in the
 *   `Luna-Sender-Worker` response header.
 */
const WRITE_MS = 1000;
/**
 * How often the periodic snapshot collects the process figures afresh; in between it repeats the
 * last ones. prom-client's collection is the dearest part of a snapshot: `process_open_fds` lists
 * /proc/self/fd, one entry per socket (1.3 ms of CPU at 2000 sockets, 2 ms for the whole set,
 * measured 2026-12-01), which once a second was a fixed cost beside the fan-out (bench/RESULTS.md,
 * "Small-event gap, profiled"). A scrape and the final snapshot always collect afresh; a peer's
 * process figures are at most this old, like a snapshot at the edge of STALE_MS.
 */
const PROCESS_REFRESH_MS = 5000;
/** Sampling period of the event-loop delay monitor behind nodejs_eventloop_lag_* (see processFamilies). */
const ELD_RESOLUTION_MS = 100;
const STALE_MS = 5000;
const LOCK_STALE_MS = 5000;
/** Tries, 10 ms apart, a stopping worker makes for the lock. */
const STOP_LOCK_TRIES = 50;
/** How many folded snapshot ids retired.json remembers (a crash between its rename and the unlinks). */
const FOLDED_KEPT = 256;

/** The one figure only the answering worker can make (README table: src/doc-tables.ts). */
export const WORKERS_METRIC = {
  name: 'luna_sender_workers',
  help: `Workers serving the port on this host by state: live (snapshot at most ${STALE_MS / 1000} s old), stale (alive but its snapshot is older: stuck, or stopped; its last figures are counted).`,
  labels: ['state'],
} as const;

interface Snapshot {
  id: string;
  pid: number;
  /** Date.now() when written. */
  at: number;
  /** Written by a worker that stopped: it will not change again. */
  final: boolean;
  host: Family[];
  process: Family[];
}

interface Retired {
  folded: string[];
  host: Family[];
}

/**
 * The families of several workers as one: series with equal name and labels summed (or the
 * largest taken, per the family's aggregator); the first list's order and help win.
 */
export function combine(lists: readonly Family[][]): Family[] {
  const out = new Map<string, { family: Family; series: Map<string, FamilyValue> }>();
  for (const list of lists) {
    for (const f of list) {
      let g = out.get(f.name);
      if (g === undefined) {
        g = { family: { ...f, values: [] }, series: new Map() };
        out.set(f.name, g);
      }
      for (const v of f.values) {
        const key = `${v.metricName ?? ''}${JSON.stringify(Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
        const cur = g.series.get(key);
        if (cur === undefined) g.series.set(key, { ...v });
        else cur.value = g.family.aggregator === 'max' ? Math.max(cur.value, v.value) : cur.value + v.value;
      }
    }
  }
  return [...out.values()].map((g) => ({ ...g.family, values: [...g.series.values()] }));
}

/** The Prometheus text format (0.0.4) of these families, written by prom-client. */
export function exposition(families: readonly Family[]): Promise<string> {
  const registry = new Registry();
  // A family without samples (no HTTP request yet) is left out rather than shown empty.
  for (const f of families) if (f.values.length > 0) registry.registerMetric({ ...f, get: () => f } as unknown as Parameters<Registry['registerMetric']>[0]);
  return registry.metrics();
}

/** Counters and histograms: what a gone worker still contributes. */
const monotonic = (fs: Family[]) => fs.filter((f) => f.type !== 'gauge');

let processRegistry: Registry | undefined;
/** prom-client's default metrics, once per process (they observe the process, not a worker). */
async function processFamilies(): Promise<Family[]> {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    // The event-loop delay is sampled by a native timer every `eventLoopMonitoringPrecision` ms,
    // and every expiry wakes the loop: at prom-client's default of 10 ms that was 100 wake-ups a
    // second, a fixed cost the fan-out benchmark saw beside the deliveries (bench/RESULTS.md,
    // "Small-event gap, profiled"). 100 ms still gives tens of samples per scrape for the
    // nodejs_eventloop_lag_* percentiles; a stall longer than that is seen in full either way.
    collectDefaultMetrics({ register: processRegistry, labels: { worker: String(process.pid) }, eventLoopMonitoringPrecision: ELD_RESOLUTION_MS });
  }
  const all = (await processRegistry.getMetricsAsJSON()) as unknown as Family[];
  // prom-client's nodejs_active_{handles,requests,resources}_total are gauges named like counters,
  // which promtool rejects; nodejs_active_handles and nodejs_active_resources say the same by type.
  return all.filter((f) => !(f.type === 'gauge' && f.name.endsWith('_total')));
}

/**
 * Whether the worker runs. A killed worker stays a zombie until its parent (the supervisor, PM2)
 * reaps it, and signal 0 still reaches a zombie: on Linux /proc says `Z` for those.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function metricsDir(port: number): string {
  return join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `luna-sender-${port}`);
}

let instances = 0;

export class HostMetrics {
  private readonly id = `${process.pid}-${Date.now().toString(36)}-${instances++}`;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warned = false;
  /** The process figures of the last snapshot and when they were collected (see PROCESS_REFRESH_MS). */
  private processCache: { at: number; families: Family[] } | undefined;

  constructor(
    readonly dir: string,
    private readonly collect: () => Family[],
    private readonly log: Logger,
  ) {}

  /** Clears what a previous run of the port left (when no worker is live), then writes every second. */
  start(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.clearIfAlone();
    } catch (err) {
      this.warn(err); // /metrics still answers, with this worker's figures and the snapshots it can read
    }
    void this.write(false);
    this.timer = setInterval(() => void this.write(false, true), WRITE_MS);
    this.timer.unref();
  }

  /** Final snapshot, then fold it (and any other gone worker's) into the retired totals. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.write(true);
    // The last worker of the port leaves nothing behind in /dev/shm (a next start would clear it).
    // Workers stopping together meet at the lock: a stopping worker may wait for it a little
    // (a scrape never does), so that the last of them sees the others' final snapshots and clears.
    let cleared: boolean | undefined;
    for (let i = 0; i < STOP_LOCK_TRIES && cleared === undefined; i++) {
      cleared = this.clearIfAlone();
      if (cleared === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    if (cleared === true) {
      try {
        rmdirSync(this.dir);
      } catch {
        // a worker starting meanwhile wrote into it: it stays
      }
      return;
    }
    // Not alone: fold this worker's final snapshot (others would, at their next scrape, anyway).
    for (let i = 0; i < STOP_LOCK_TRIES && !this.fold(); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** Without another live worker of the port, removes every file; whether it did (undefined: the lock was busy). */
  private clearIfAlone(): boolean | undefined {
    let cleared = false;
    const held = this.locked(() => {
      if (this.read().some((s) => s.id !== this.id && !s.final && alive(s.pid))) return;
      for (const f of readdirSync(this.dir)) if (f !== 'lock') rmSync(join(this.dir, f), { force: true });
      cleared = true;
    });
    return held ? cleared : undefined;
  }

  /** The host's exposition text (Prometheus 0.0.4). */
  async expose(): Promise<string> {
    const own = await this.write(false);
    const peers = this.read().filter((s) => s.id !== this.id);
    const retired = this.readRetired();
    const folded = new Set(retired.folded);
    const now = Date.now();
    const host: Family[][] = [own.host];
    const perWorker: Family[][] = [own.process];
    const pids = new Set([process.pid]);
    let live = 1;
    let stale = 0;
    let gone = 0;
    for (const s of peers) {
      if (folded.has(s.id)) continue;
      if (s.final || !alive(s.pid)) {
        host.push(monotonic(s.host));
        gone++;
        continue;
      }
      if (now - s.at <= STALE_MS) live++;
      else stale++;
      host.push(s.host);
      if (!pids.has(s.pid)) perWorker.push(s.process);
      pids.add(s.pid);
    }
    host.push(retired.host);
    const workers: Family = {
      ...WORKERS_METRIC,
      type: 'gauge',
      aggregator: 'sum',
      values: [
        { labels: { state: 'live' }, value: live },
        { labels: { state: 'stale' }, value: stale },
      ],
    };
    if (gone > 0) setImmediate(() => this.fold());
    return exposition(combine([...host, [workers], ...perWorker]));
  }

  /** `periodic`: the timer's write, which may repeat process figures up to PROCESS_REFRESH_MS old. */
  private async write(final: boolean, periodic = false): Promise<Snapshot> {
    const at = Date.now();
    const cached = this.processCache;
    let families: Family[];
    if (periodic && cached !== undefined && at - cached.at < PROCESS_REFRESH_MS) families = cached.families;
    else {
      families = await processFamilies();
      this.processCache = { at, families };
    }
    const snap: Snapshot = { id: this.id, pid: process.pid, at, final, host: this.collect(), process: families };
    if (this.stopped && !final) return snap;
    const file = join(this.dir, `${this.id}.json`);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(snap));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      // The directory went (the last worker of a run removed it, or /dev/shm was cleaned): again.
      try {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        writeFileSync(`${file}.tmp`, JSON.stringify(snap));
        renameSync(`${file}.tmp`, file);
      } catch {
        this.warn(err);
      }
    }
    return snap;
  }

  /** Once per worker: a directory that cannot be written stays so, and a line a second would flood the log. */
  private warn(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.log.warn({ dir: this.dir, err: (err as Error).message }, 'metrics snapshot not written: /metrics of the other workers miss this one');
  }

  /** Every snapshot in the directory (unreadable ones, e.g. deleted meanwhile, skipped). */
  private read(): Snapshot[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: Snapshot[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || n === 'retired.json') continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as Snapshot);
      } catch {
        // deleted by a fold, or not ours
      }
    }
    return out;
  }

  private readRetired(): Retired {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'retired.json'), 'utf8')) as Retired;
    } catch {
      return { folded: [], host: [] };
    }
  }

  /** Runs `fn` holding the directory's lock; does nothing (never waits) when another holds it. */
  private locked(fn: () => void): boolean {
    const lock = join(this.dir, 'lock');
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs < LOCK_STALE_MS) return false;
        unlinkSync(lock); // its holder died holding it
        fd = openSync(lock, 'wx');
      } catch {
        return false;
      }
    }
    try {
      fn();
    } catch (err) {
      // Housekeeping never fails a scrape or a shutdown; the next holder tries again.
      this.warn(err);
      return false;
    } finally {
      closeSync(fd);
      rmSync(lock, { force: true });
    }
    return true;
  }

  /** Snapshots of gone workers into retired.json; see the class comment for the order of steps. */
  /** Whether it held the lock (and so folded whatever there was). */
  private fold(): boolean {
    return this.locked(() => {
      const retired = this.readRetired();
      const done = new Set(retired.folded);
      const folding = this.read().filter((s) => !done.has(s.id) && (s.final || !alive(s.pid)));
      if (folding.length === 0) return;
      const next: Retired = {
        folded: [...retired.folded, ...folding.map((s) => s.id)].slice(-FOLDED_KEPT),
        host: combine([retired.host, ...folding.map((s) => monotonic(s.host))]),
      };
      const file = join(this.dir, 'retired.json');
      writeFileSync(`${file}.tmp`, JSON.stringify(next));
      renameSync(`${file}.tmp`, file);
      for (const s of folding) rmSync(join(this.dir, `${s.id}.json`), { force: true });
    });
  }
}
