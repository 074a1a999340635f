/** `--key value`, `--key=value` and bare `--flag` (true). */
export function parseArgs(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out.set(a.slice(2), argv[++i]);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

export function num(args: Map<string, string>, key: string, dflt: number): number {
  const v = args.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${key}: not a number: ${v}`);
  return n;
}

export function list(args: Map<string, string>, key: string, dflt: string[]): string[] {
  const v = args.get(key);
  return v === undefined
    ? dflt
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}
