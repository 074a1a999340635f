import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatUnit, type GrafanaDashboard, legend, panelQueries, rateInterval, substitute, templateValues } from '../../scripts/grafana-render.js';

// What scripts/dashboard-preview.ts sends to Prometheus for each panel: Grafana's variables as
// Grafana substitutes them, legends and units as it prints them.

const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana/luna-sender.json', import.meta.url), 'utf8')) as GrafanaDashboard;
const ctx = { stepSeconds: 2, rateIntervalSeconds: 15, rangeSeconds: 150 };

test('variables in the three spellings Grafana accepts, the built-in ones from the context', () => {
  const vars = new Map([['instance', '.*']]);
  assert.equal(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${x} spelling is what is tested
    substitute('rate(x{instance=~"$instance"}[$__rate_interval]) + y{i=~"${instance}"} + z{i=~"[[instance]]"} + w[$__interval] + v[$__range]', vars, ctx),
    'rate(x{instance=~".*"}[15s]) + y{i=~".*"} + z{i=~".*"} + w[2s] + v[150s]',
  );
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${x} spelling is what is tested
  assert.equal(substitute('a[${__rate_interval}]', vars, ctx), 'a[15s]');
  assert.throws(() => substitute('up{job="$job"}', vars, ctx), /unknown Grafana variable \$job/);
});

test("the dashboard's template variables with All selected", () => {
  assert.deepEqual(
    [...templateValues(dashboard)],
    [
      ['datasource', 'prometheus'],
      ['instance', '.*'],
    ],
  );
  assert.throws(() => templateValues({ title: 't', panels: [], templating: { list: [{ name: 'job', type: 'query' }] } }), /\$job has no "All" value/);
});

test('every target of every panel maps to one query with no variable left', () => {
  const queries = panelQueries(dashboard, ctx);
  const targets = dashboard.panels.reduce((n, p) => n + (p.targets?.length ?? 0), 0);
  assert.ok(targets > 10);
  assert.equal(queries.length, targets);
  for (const q of queries) {
    assert.doesNotMatch(q.promql, /\$|\[\[/, `${q.panel.title}: ${q.promql}`);
    assert.equal(q.promql, substitute(q.target.expr, templateValues(dashboard), ctx));
  }
  assert.ok(queries.some((q) => q.promql.includes('[15s]')));
});

test("legends as Grafana writes them; $__rate_interval is Grafana's formula", () => {
  assert.equal(legend('{{instance}} pid {{worker}}', { instance: 'h:5080', worker: '42' }), 'h:5080 pid 42');
  assert.equal(legend('{{ code }}', { code: '4008' }), '4008');
  assert.equal(legend('{{missing}}x', {}), 'x');
  assert.equal(legend(undefined, { __name__: 'up', job: 'j' }), 'up{job="j"}');
  assert.equal(legend('', {}), 'value');
  assert.equal(rateInterval(2, 1), 4);
  assert.equal(rateInterval(30, 15), 60);
  assert.equal(rateInterval(60, 1), 61);
});

test("values in the dashboard's units", () => {
  assert.equal(formatUnit(1500, 'short'), '1.5 k');
  assert.equal(formatUnit(300, 'short'), '300');
  assert.equal(formatUnit(5200, 'ops'), '5.2 k ops/s');
  assert.equal(formatUnit(0.25, 'reqps'), '0.25 req/s');
  assert.equal(formatUnit(0.045, 'percentunit'), '4.5%');
  assert.equal(formatUnit(150 * 1024 * 1024, 'bytes'), '150 MiB');
  assert.equal(formatUnit(0.2, 's'), '200 ms');
  assert.equal(formatUnit(0.00025, 's'), '250 µs');
  assert.equal(formatUnit(0, 's'), '0 s');
  assert.equal(formatUnit(2.5, 's'), '2.5 s');
});
