import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU and memory of a process tree, read from /proc (Linux only). A server that forks workers is
 * measured as a whole: the root pid plus every descendant alive at the time of reading. CPU of
 * children that already exited is included through cutime/cstime of their (waiting) parent.
 */
let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 on every Linux we run on */
}

interface Stat {
  pid: number;
  ppid: number;
  ticks: number;
  /** System (kernel) part of `ticks`: stime + cstime. */
  sysTicks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14..17.
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return { pid, ppid: Number(f[1]), ticks, sysTicks: Number(f[12]) + Number(f[14]) };
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s === undefined) continue;
    let list = children.get(s.ppid);
    if (list === undefined) {
      list = [];
      children.set(s.ppid, list);
    }
    list.push(pid);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0 && out.length < 10_000) {
    const pid = todo.pop()!;
    out.push(pid);
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return out;
}

/** CPU seconds (user + system) consumed so far by the tree. */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / clkTck;
}

/** CPU seconds of the tree split into user and system (kernel) time. */
export function treeCpuSplit(root: number): { user: number; sys: number } {
  let ticks = 0;
  let sys = 0;
  for (const pid of processTree(root)) {
    const st = readStat(pid);
    ticks += st?.ticks ?? 0;
    sys += st?.sysTicks ?? 0;
  }
  return { user: (ticks - sys) / clkTck, sys: sys / clkTck };
}

function statusKb(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Current resident memory of the tree, bytes (sum over processes). */
export function treeRssBytes(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) kb += statusKb(pid, 'VmRSS');
  return kb * 1024;
}

/** Peak resident memory (VmHWM) of the tree, bytes (sum of each process's own peak). */
export function treePeakRssBytes(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) kb += statusKb(pid, 'VmHWM');
  return kb * 1024;
}
