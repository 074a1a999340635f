/**
 * What Grafana would draw from a dashboard JSON, without Grafana (scripts/dashboard-preview.ts):
 * the panels' PromQL with Grafana's variables substituted, legends from `legendFormat`, axis
 * ticks in the panel's unit, and the panels placed by `gridPos` on Grafana's 24-column grid. Pure
 * functions: the script feeds them Prometheus answers; test/unit/grafana-render.test.ts checks
 * the substitution and the mapping.
 */

export interface GrafanaTarget {
  refId?: string;
  expr: string;
  legendFormat?: string;
}

export interface GrafanaPanel {
  id?: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: GrafanaTarget[];
}

export interface GrafanaDashboard {
  title: string;
  panels: GrafanaPanel[];
  templating?: { list: Array<{ name: string; type: string; includeAll?: boolean; allValue?: string }> };
}

/** Values for Grafana's built-in variables; the dashboard's own come from `templateValues`. */
export interface QueryContext {
  /** Seconds between points (`$__interval`, and `step` of query_range). */
  stepSeconds: number;
  /** `$__rate_interval`, in seconds. */
  rateIntervalSeconds: number;
  /** `$__range`, in seconds. */
  rangeSeconds: number;
}

/**
 * The dashboard's template variables as Grafana substitutes them with "All" selected: a query
 * variable with `includeAll` becomes its `allValue` (`.*` for `instance`), a data source variable
 * the data source (never inside PromQL, but kept harmless).
 */
export function templateValues(d: GrafanaDashboard): Map<string, string> {
  const values = new Map<string, string>();
  for (const v of d.templating?.list ?? []) {
    if (v.type === 'datasource') values.set(v.name, 'prometheus');
    else if (v.includeAll) values.set(v.name, v.allValue ?? '.*');
    else throw new Error(`template variable $${v.name} has no "All" value: give one to render the dashboard`);
  }
  return values;
}

/**
 * PromQL with every variable replaced, in the three spellings Grafana accepts (`$x`, `${x}`,
 * `[[x]]`). An unknown variable is an error: Prometheus would reject the query anyway, and a
 * clear name beats its parse error.
 */
export function substitute(expr: string, vars: Map<string, string>, ctx: QueryContext): string {
  const all = new Map(vars);
  all.set('__interval', `${ctx.stepSeconds}s`);
  all.set('__interval_ms', String(ctx.stepSeconds * 1000));
  all.set('__rate_interval', `${ctx.rateIntervalSeconds}s`);
  all.set('__range', `${ctx.rangeSeconds}s`);
  all.set('__range_s', String(ctx.rangeSeconds));
  all.set('__range_ms', String(ctx.rangeSeconds * 1000));
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const v = all.get(name);
    if (v === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return v;
  });
}

/** Grafana's legend: `{{label}}` from the series' labels; without a format, the series as `{a="b"}`. */
export function legend(format: string | undefined, labels: Record<string, string>): string {
  if (format === undefined || format === '' || format === '__auto') {
    const { __name__: name = '', ...rest } = labels;
    const inner = Object.entries(rest)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ');
    return inner === '' ? name || 'value' : `${name}{${inner}}`;
  }
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_w, k: string) => labels[k] ?? '');
}

export interface PanelQuery {
  panel: GrafanaPanel;
  target: GrafanaTarget;
  promql: string;
}

/** Every (panel, target) pair with its PromQL ready for `/api/v1/query_range`, in dashboard order. */
export function panelQueries(d: GrafanaDashboard, ctx: QueryContext): PanelQuery[] {
  const vars = templateValues(d);
  return d.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target, promql: substitute(target.expr, vars, ctx) })));
}

/**
 * Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval), where the
 * scrape interval is the data source's setting; so that a rate always spans enough samples.
 */
export function rateInterval(stepSeconds: number, scrapeSeconds: number): number {
  return Math.max(stepSeconds + scrapeSeconds, 4 * scrapeSeconds);
}

// ---- values in a panel's unit (the units the dashboard uses; others print as numbers) ----

const SI = ['', ' k', ' M', ' G', ' T'];
const IEC = [' B', ' KiB', ' MiB', ' GiB', ' TiB'];

function trim(n: number, decimals: number): string {
  return Number(n.toFixed(decimals)).toString();
}

function scaled(v: number, base: number, suffixes: readonly string[], decimals: number): string {
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < suffixes.length - 1) {
    x /= base;
    i++;
  }
  return `${v < 0 ? '-' : ''}${trim(x, decimals)}${suffixes[i]}`;
}

/** A value as Grafana prints it in the unit: `short`, `ops`, `reqps`, `s`, `percentunit`, `bytes`. */
export function formatUnit(v: number, unit: string | undefined, decimals = 2): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case 'ops':
      return `${scaled(v, 1000, SI, decimals)} ops/s`;
    case 'reqps':
      return `${scaled(v, 1000, SI, decimals)} req/s`;
    case 'percentunit':
      return `${trim(v * 100, decimals)}%`;
    case 'bytes':
      return scaled(v, 1024, IEC, decimals);
    case 's': {
      const a = Math.abs(v);
      if (a === 0) return '0 s';
      if (a < 1e-6) return `${trim(v * 1e9, decimals)} ns`;
      if (a < 1e-3) return `${trim(v * 1e6, decimals)} µs`;
      if (a < 1) return `${trim(v * 1e3, decimals)} ms`;
      if (a < 60) return `${trim(v, decimals)} s`;
      return `${trim(v / 60, decimals)} min`;
    }
    default:
      return scaled(v, 1000, SI, decimals).trim();
  }
}

// ---- drawing ----

export interface Series {
  name: string;
  /** [unix seconds, value]; NaN where Prometheus gave NaN (histogram_quantile of nothing). */
  points: Array<[number, number]>;
}

export interface RenderedPanel {
  panel: GrafanaPanel;
  series: Series[];
}

/** Grafana's classic palette (`palette-classic`, the time series default), in its order. */
const PALETTE = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300'];
/** Grafana's grid: 24 columns, rows of 30 px, 8 px between panels. */
const ROW = 30;
const GAP = 8;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values: 1, 2 or 5 times a power of ten, about `n` of them over [lo, hi]. */
function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function clock(t: number): string {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

function chart(p: RenderedPanel, width: number, height: number, from: number, to: number): string {
  const unit = p.panel.fieldConfig?.defaults?.unit;
  const values = p.series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  let lo = Math.min(0, ...values);
  let hi = Math.max(...values, 0);
  if (hi === lo) hi = lo + 1;
  const yt = ticks(lo, hi, Math.max(2, Math.floor(height / 40)));
  lo = Math.min(lo, yt[0]);
  hi = Math.max(hi, yt[yt.length - 1]);
  const left = 72;
  const bottom = 20;
  const plotW = width - left - 8;
  const plotH = height - bottom - 6;
  const x = (t: number) => left + ((t - from) / (to - from)) * plotW;
  const y = (v: number) => 6 + plotH - ((v - lo) / (hi - lo)) * plotH;
  const parts: string[] = [];
  for (const t of yt) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${esc(formatUnit(t, unit))}</text>`);
  }
  const xStep = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => (to - from) / s <= Math.max(2, plotW / 90)) ?? 3600;
  // A label needs about 24 px either side of its tick; ticks closer to an edge go without one.
  for (let t = Math.ceil(from / xStep) * xStep; x(t) <= left + plotW - 24; t += xStep) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="6" y2="${6 + plotH}" class="grid"/>`);
    parts.push(`<text x="${x(t)}" y="${height - 4}" text-anchor="middle">${clock(t)}</text>`);
  }
  p.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    // NaN breaks the line, as Grafana leaves gaps where a quantile has no observations.
    let d = '';
    let pen = false;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    parts.push(`<path d="${d}" stroke="${colour}" fill="none" stroke-width="1.5"/>`);
  });
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

/** The dashboard as one page: every panel a title, an SVG chart and a legend, placed by gridPos. */
export function renderDashboard(d: GrafanaDashboard, panels: RenderedPanel[], from: number, to: number, width: number, subtitle: string): string {
  const pad = 16;
  const col = (width - 2 * pad + GAP) / 24;
  const header = 56;
  let bottom = 0;
  const boxes = panels.map((p) => {
    const g = p.panel.gridPos;
    const left = pad + g.x * col;
    const top = header + g.y * (ROW + GAP);
    const w = g.w * col - GAP;
    const h = g.h * ROW + (g.h - 1) * GAP;
    bottom = Math.max(bottom, top + h);
    const legendRows = Math.ceil(p.series.length / Math.max(1, Math.floor(w / 230)));
    const chartH = h - 34 - legendRows * 18;
    const items = p.series.map((s, i) => `<span class="item"><i style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(s.name)}</span>`).join('');
    return `<section style="left:${left}px;top:${top}px;width:${w}px;height:${h}px"><h2>${esc(p.panel.title)}</h2>${chart(p, Math.floor(w - 12), Math.max(60, chartH), from, to)}<div class="legend">${items}</div></section>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(d.title)}</title><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px Inter,Helvetica,Arial,sans-serif;width:${width}px;height:${bottom + pad}px;position:relative}
header{position:absolute;left:${pad}px;top:12px;right:${pad}px;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:18px;font-weight:500;margin:0;color:#fff}header span{color:#8e8e9e}
section{position:absolute;box-sizing:border-box;background:#181b1f;border:1px solid #2c3235;border-radius:2px;padding:6px}
h2{font-size:13px;font-weight:500;margin:0 0 6px 2px;color:#ccccdc}
svg text{fill:#8e8e9e;font-size:10px}.grid{stroke:#2c3235;stroke-width:1}
.legend{display:flex;flex-wrap:wrap;gap:2px 14px;margin:2px 4px}.item{white-space:nowrap}
.item i{display:inline-block;width:14px;height:4px;border-radius:2px;margin:0 6px 2px 0;vertical-align:middle}
</style></head><body><header><h1>${esc(d.title)}</h1><span>${esc(subtitle)}</span></header>${boxes.join('')}</body></html>`;
}
