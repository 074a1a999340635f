/**
 * The Grafana dashboard (docs/grafana/luna-sender.json) rendered from a real run, and a check that
 * every one of its queries evaluates to data against a real Prometheus:
 *
 *   npm run build:dev && node build/scripts/dashboard-preview.js [--seconds 150] [--out docs/images/dashboard.png]
 *     [--subscribers 300] [--rate-interval 15] [--dashboard docs/grafana/luna-sender.json]
 *
 * Starts a real Redis, the real gateway with two workers, and Prometheus (Debian's, scraping every
 * second), drives traffic (subscribers with a mix of filters, steady publishes with bursts, slow
 * consumers closed with 4008, reconnects that resume, bad requests), then runs each panel's
 * targets through /api/v1/query_range and draws them as Grafana lays them out (scripts/
 * grafana-render.ts); headless Chromium screenshots the page. A query without data is a broken
 * panel: the script names it and exits 1. Everything it started is stopped and its temporary
 * directory removed, also on an error or SIGINT. Grafana itself is not needed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { launchChromium } from '../test/helpers/browser.js';
import { type GatewayProcess, spawnGateway } from '../test/helpers/gateway.js';
import { ACCOUNT, http, publish } from '../test/helpers/http.js';
import { freePort } from '../test/helpers/port.js';
import { prng } from '../test/helpers/prng.js';
import { type RawWs, rawWs } from '../test/helpers/raw-ws.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { type GrafanaDashboard, legend, panelQueries, type RenderedPanel, rateInterval, renderDashboard, type Series } from './grafana-render.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '150' },
    out: { type: 'string', default: join(ROOT, 'docs/images/dashboard.png') },
    dashboard: { type: 'string', default: join(ROOT, 'docs/grafana/luna-sender.json') },
    subscribers: { type: 'string', default: '300' },
    prometheus: { type: 'string', default: '/usr/bin/prometheus' },
    'rate-interval': { type: 'string', default: '15' },
  },
});
const SECONDS = Number(opts.seconds);
const SUBSCRIBERS = Number(opts.subscribers);
/**
 * $__rate_interval. Grafana makes it max($__interval + scrape, 4 x scrape) from the data source's
 * scrape interval: 60 s with docs/prometheus.yml's 15 s, too long for a run of minutes; 15 s over
 * one-second scrapes smooths the bursts about as much as Grafana does over an hour.
 */
const RATE_INTERVAL = Number(opts['rate-interval']);
const SCRAPE = 1; // seconds: short, so that a run of minutes draws curves rather than a few steps
const WIDTH = 1400;

const say = (msg: string) => process.stdout.write(`[dashboard-preview] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Teardown, last started first; run once, on success, error or SIGINT. */
const cleanups: Array<() => Promise<void> | void> = [];
let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((e: Error) => say(`cleanup: ${e.message}`));
  })();
  return cleaned;
}
let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
  say('SIGINT: stopping');
  void cleanup().then(() => process.exit(130));
});

async function startPrometheus(dir: string, target: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  // The job of docs/prometheus.yml, with this run's one target and a one-second interval.
  writeFileSync(
    config,
    `global:\n  scrape_interval: ${SCRAPE}s\n  scrape_timeout: ${SCRAPE}s\nscrape_configs:\n  - job_name: luna-sender\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['127.0.0.1:${target}']\n`,
  );
  const child = spawn(
    opts.prometheus as string,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${err}`);
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child };
    await sleep(100);
  }
  throw new Error(`prometheus not ready in 20 s: ${err}`);
}

// ---- traffic ----

/** The subscribers' filter mix: most narrow, some broad; `positions=1` ones can resume. */
const FILTERS = [
  '',
  'sources=cam-1,cam-2',
  'sources=cam-3',
  'cities=Moscow',
  'cities=Kazan,Samara',
  'tags=vip',
  'tags=vip,night',
  'positions=1',
  'positions=1&cities=Moscow',
];
const SOURCES = ['cam-1', 'cam-2', 'cam-3', 'cam-4', 'cam-5'];
const CITIES = ['Moscow', 'Kazan', 'Samara', 'Tver'];

interface Sub {
  ws: WebSocket;
  filter: string;
  last?: string;
}

function subscribe(port: number, filter: string, resume?: string): Promise<Sub> {
  // Only positions=1 filters resume, and they are never empty.
  const q = resume === undefined ? filter : `${filter}&resume=${encodeURIComponent(resume)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/2/ws?${q}`, { headers: { 'Luna-Account-Id': ACCOUNT } });
    const sub: Sub = { ws, filter };
    // Only the last frame is kept: its position is where a reconnect resumes.
    ws.on('message', (d) => {
      if (filter.includes('positions=1')) sub.last = d.toString();
    });
    ws.once('open', () => resolve(sub));
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`subscribe ${q}: HTTP ${res.statusCode}`)));
  });
}

function event(rnd: () => number, i: number, pad = 0): Record<string, unknown> {
  const tags = rnd() < 0.2 ? ['vip', ...(rnd() < 0.5 ? ['night'] : [])] : [];
  return {
    event_id: `ev-${i}`,
    source: SOURCES[Math.floor(rnd() * SOURCES.length)],
    tags,
    location: { city: CITIES[Math.floor(rnd() * CITIES.length)] },
    ...(pad > 0 ? { user_data: 'x'.repeat(pad) } : {}),
  };
}

function body(events: unknown[]): string {
  return JSON.stringify({
    events,
    handler_id: '557d54ec-29ad-4f3c-93b4-c9092ef12515',
    event_create_time: '2026-12-01T12:00:00Z',
    event_end_time: '2026-12-01T12:00:01Z',
  });
}

async function drive(gw: GatewayProcess, seconds: number): Promise<void> {
  const rnd = prng(12);
  const base = gw.url;
  const subs: Sub[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) subs.push(await subscribe(gw.port, FILTERS[i % FILTERS.length]));
  cleanups.push(() => {
    for (const s of subs) s.ws.terminate();
  });
  // Slow consumers: bare sockets that never read, on a filter that big events match.
  const slow: RawWs[] = [];
  const addSlow = async () => slow.push(await rawWs(gw.port, '/2/ws?tags=bulk', { 'Luna-Account-Id': ACCOUNT }));
  cleanups.push(() => {
    for (const s of slow) s.socket.destroy();
  });
  for (let i = 0; i < 3; i++) await addSlow();
  say(`${subs.length} subscribers, ${slow.length} slow consumers; traffic for ${seconds} s`);

  let n = 0;
  const end = Date.now() + seconds * 1000;
  for (let tick = 0; Date.now() < end && !stopping; tick++) {
    const t0 = Date.now();
    // Steady: ~10 publishes a second of 1-5 events; every 20 s a burst of 200.
    const count = tick % 200 === 100 ? 200 : 1 + Math.floor(rnd() * 5);
    const r = await publish(base, body(Array.from({ length: count }, () => event(rnd, n++))));
    if (r.status !== 201) say(`publish: ${r.status} ${r.text}`);
    if (tick % 50 === 25) {
      // Big events only the slow consumers (and nobody else) match: their buffers fill; the gateway closes them (4008).
      await publish(base, body(Array.from({ length: 16 }, () => ({ ...event(rnd, n++, 128 * 1024), tags: ['bulk'] }))));
    }
    if (tick % 300 === 299) {
      // Replace the slow consumers (the closed ones are gone on the server side).
      for (const s of slow.splice(0)) s.socket.destroy();
      for (let i = 0; i < 3; i++) await addSlow();
    }
    if (tick % 70 === 35) {
      // A few reconnects: positions=1 subscribers resume from their last frame, others just come back.
      for (let k = 0; k < 8; k++) {
        const i = Math.floor(rnd() * subs.length);
        const old = subs[i];
        const position = old.last === undefined ? undefined : /"position": ?"([^"]+)"\}$/.exec(old.last)?.[1];
        old.ws.close(1000);
        subs[i] = await subscribe(gw.port, old.filter, position).catch(() => subscribe(gw.port, old.filter));
      }
    }
    if (tick % 40 === 10) {
      // Bad requests, so that error statuses show: malformed JSON, a refused filter, no account, an unknown path.
      await http(`${base}/1/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT }, body: '{"events": [' });
      await http(`${base}/2/ws?gender=7`, { headers: { 'Luna-Account-Id': ACCOUNT } });
      await http(`${base}/1/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body([{}]) });
      await http(`${base}/no/such/path`);
      await http(`${base}/health/ready`);
    }
    await sleep(Math.max(0, 100 - (Date.now() - t0)));
  }
  // What the traffic amounted to, host-wide, as the dashboard should show it.
  const text = (await http(`${base}/metrics`)).text;
  const total = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  say(
    `published ${n} events; host totals: ${total('luna_sender_deliveries_total')} deliveries, ${total('luna_sender_resumes_total')} resumes, ` +
      `${total('luna_sender_slow_consumer_closes_total')} slow-consumer closes, ${total('luna_sender_http_requests_total{')} HTTP requests`,
  );
}

// ---- rendering ----

interface Matrix {
  status: string;
  error?: string;
  data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

async function queryPanels(prom: string, dashboard: GrafanaDashboard, from: number, to: number): Promise<{ panels: RenderedPanel[]; empty: string[] }> {
  const range = to - from;
  const step = Math.max(2, Math.ceil(range / 300));
  const ctx = { stepSeconds: step, rateIntervalSeconds: Math.max(RATE_INTERVAL, rateInterval(step, SCRAPE)), rangeSeconds: range };
  const byPanel = new Map<(typeof dashboard.panels)[number], Series[]>(dashboard.panels.map((p) => [p, []]));
  const empty: string[] = [];
  for (const q of panelQueries(dashboard, ctx)) {
    const u = new URL('/api/v1/query_range', prom);
    u.search = new URLSearchParams({ query: q.promql, start: String(from), end: String(to), step: String(step) }).toString();
    const m = (await (await fetch(u)).json()) as Matrix;
    if (m.status !== 'success') throw new Error(`${q.panel.title}: ${q.promql}: ${m.error}`);
    const series = (m.data?.result ?? []).map((r) => ({
      name: legend(q.target.legendFormat, r.metric),
      points: r.values.map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
    if (!series.some((s) => s.points.some(([, v]) => Number.isFinite(v)))) empty.push(`${q.panel.title} [${q.target.refId ?? '?'}]: ${q.promql}`);
    byPanel.get(q.panel)!.push(...series.sort((a, b) => a.name.localeCompare(b.name)));
  }
  return { panels: [...byPanel].map(([panel, series]) => ({ panel, series })), empty };
}

async function main(): Promise<number> {
  const dashboard = JSON.parse(readFileSync(opts.dashboard as string, 'utf8')) as GrafanaDashboard;
  const dir = mkdtempSync(join(tmpdir(), 'luna-sender-dashboard-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const redis: TestRedis = await startRedis();
  cleanups.push(() => redis.stop());
  const port = await freePort();
  // Small buffers per socket, so that slow consumers are closed within a run of minutes.
  const gw = await spawnGateway({ REDIS_URL: redis.url, SENDER_WORKERS: '2', SENDER_PORT: String(port), SENDER_MAX_BACKPRESSURE: '262144' });
  cleanups.push(async () => {
    await gw.stop();
  });
  const prom = await startPrometheus(dir, gw.port);
  say(`redis :${redis.port}, gateway :${gw.port} (2 workers), prometheus ${prom.url}`);
  const from = Math.floor(Date.now() / 1000);
  await drive(gw, SECONDS);
  if (stopping) return 130;
  await sleep(3000 * SCRAPE); // the last scrapes
  const to = Math.floor(Date.now() / 1000);

  const { panels, empty } = await queryPanels(prom.url, dashboard, from, to);
  const subtitle = `rendered from a real run: ${SECONDS} s, ${SUBSCRIBERS} subscribers, 2 workers, Prometheus scraping every ${SCRAPE} s`;
  const html = renderDashboard(dashboard, panels, from, to, WIDTH, subtitle);
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: WIDTH, height: 900 } });
  await page.setContent(html);
  await page.screenshot({ path: opts.out as string, fullPage: true });
  say(`wrote ${opts.out}`);
  if (empty.length > 0) {
    say(`queries without data (a broken panel or metric):\n  ${empty.join('\n  ')}`);
    return 1;
  }
  say(`all ${panels.length} panels have data`);
  return 0;
}

main()
  .then(
    (code) => cleanup().then(() => code),
    (err: Error) => {
      say(`failed: ${err.stack ?? err.message}`);
      return cleanup().then(() => 1);
    },
  )
  .then((code) => process.exit(code));
