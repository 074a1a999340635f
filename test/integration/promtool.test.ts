import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, publish, publishBody } from '../helpers/http.js';
import { connect } from '../helpers/ws-client.js';

/** Prometheus's own linter (Debian's `prometheus` package; .ci/run installs it). */
const PROMTOOL = '/usr/bin/promtool';

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const checkMetrics = (text: string) => promtool(['check', 'metrics'], text);

/** Traffic that makes every kind of series appear: sockets, a close, publishes, a 404, a 405. */
async function exercised(gw: Gateway): Promise<string> {
  const c = await connect(`ws://127.0.0.1:${gw.port}/2/ws?gender=1`, { 'Luna-Account-Id': ACCOUNT });
  assert.equal((await publish(gw.url, publishBody([{ face_attributes: { basic_attributes: { gender: 1, age: 30 } } }]))).status, 201);
  await c.waitFor(1);
  c.ws.close(1000);
  await c.closed;
  assert.equal((await http(`${gw.url}/nope`)).status, 404);
  assert.equal((await http(`${gw.url}/version`, { method: 'POST' })).status, 405);
  await http(`${gw.url}/metrics`);
  const r = await http(`${gw.url}/metrics`);
  assert.equal(r.status, 200);
  return r.text;
}

test('promtool check metrics finds no problem in the exposition (and does flag a bad one)', async () => {
  // The check itself can fail: a gauge named like a counter is reported.
  const bad = checkMetrics('# HELP x_total A gauge named like a counter.\n# TYPE x_total gauge\nx_total 1\n');
  assert.notEqual(bad.status, 0);
  assert.match(bad.output, /x_total/);

  const gw = await startGateway();
  try {
    const text = await exercised(gw);
    assert.match(text, /^luna_sender_http_requests_total\{route="unmatched",status="404"\} 1$/m);
    assert.doesNotMatch(text, /route="\/nope"/, 'never the raw URL');
    const got = checkMetrics(text);
    assert.deepEqual(got, { status: 0, output: '' }, got.output);
  } finally {
    await gw.stop();
  }
});

/** Every PromQL expression of the dashboard: panel targets and template variable queries. */
function dashboardQueries(d: { panels: { targets: { expr: string }[] }[]; templating: { list: { query: unknown }[] } }): string[] {
  const exprs = d.panels.flatMap((p) => p.targets.map((t) => t.expr));
  for (const v of d.templating.list) {
    if (typeof v.query === 'object' && v.query !== null) exprs.push(String((v.query as { query: string }).query));
  }
  return exprs;
}

test('the Grafana dashboard parses and every metric its queries use is in the exposition', async () => {
  const d = JSON.parse(readFileSync(`${DOCS}grafana/luna-sender.json`, 'utf8'));
  const exprs = dashboardQueries(d);
  assert.ok(exprs.length >= 12, 'panels with queries');
  const used = new Set(exprs.flatMap((e) => e.match(/\b(?:luna_sender|process|nodejs)_[a-z0-9_]+/g) ?? []));
  assert.ok(used.has('luna_sender_deliveries_total') && used.has('process_cpu_seconds_total'));
  const gw = await startGateway();
  try {
    const text = await exercised(gw);
    const names = new Set(
      text
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    );
    const missing = [...used].filter((n) => !names.has(n));
    assert.deepEqual(missing, [], `dashboard queries name metrics that /metrics does not have: ${missing}`);
  } finally {
    await gw.stop();
  }
});

test('promtool check config accepts docs/prometheus.yml', () => {
  const got = promtool(['check', 'config', `${DOCS}prometheus.yml`]);
  assert.equal(got.status, 0, got.output);
  assert.match(got.output, /SUCCESS/);
});
