/** Plain-text table: a title, a header row and right-aligned cells (numbers) / left-aligned text. */
export type Cell = string | number;

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return '-';
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (Math.abs(x) >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(Math.abs(x) < 10 ? Math.max(digits, 2) : digits);
}

export function renderTable(title: string, header: string[], rows: Cell[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[], isHeader: boolean) =>
    '| ' +
    r
      .map((c, i) => {
        const s = c ?? '';
        const numeric = !isHeader && typeof rows[0]?.[i] === 'number';
        return numeric ? s.padStart(widths[i]) : s.padEnd(widths[i]);
      })
      .join(' | ') +
    ' |';
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return `${[`\n### ${title}\n`, line(header, true), sep, ...cells.slice(1).map((r) => line(r, false))].join('\n')}\n`;
}

export function printTable(title: string, header: string[], rows: Cell[][]): void {
  process.stdout.write(renderTable(title, header, rows));
}
