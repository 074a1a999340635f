import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventMaker, nowMs } from '../../bench/fanout/events.js';
import { filterKey as limitKey, matches as limitMatches, parseFilter } from '../../bench/fanout/servers/simple-filter.js';
import { ingestSubscriptions, sentinelEvent } from '../../bench/ingest/run.js';
import { broadcastSubscriptions } from '../../bench/scale/run.js';
import { compileFilter, extractFacts, filterKey } from '../../src/filters/index.js';
import { parse } from '../helpers/filters.js';

/**
 * The scale and ingest benchmarks count on their subscriptions meaning what they say: the broadcast
 * filters are distinct and all match the broadcast event, the ingest filters match nothing but the
 * sentinel. Checked with the product's own filter code and with the limit server's.
 */
const query = (path: string) => path.slice(path.indexOf('?') + 1);
const productMatch = (path: string, event: string) => compileFilter(parse(query(path)))(extractFacts(JSON.parse(event), 'h'));
const limitMatch = (path: string, event: string) => limitMatches(parseFilter(new URLSearchParams(query(path))), JSON.parse(event));

test('scale: 1000 distinct filters, every one matching the small reference event (product and limit server)', () => {
  const subs = broadcastSubscriptions(3000, 1000);
  assert.equal(subs.length, 3000);
  assert.equal(new Set(subs.map((s) => filterKey(parse(query(s.path))))).size, 1000);
  assert.equal(new Set(subs.map((s) => limitKey(parseFilter(new URLSearchParams(query(s.path)))))).size, 1000);
  const ev = new EventMaker('small').make(7, nowMs());
  for (const s of subs.slice(0, 1000)) {
    assert.ok(productMatch(s.path, ev), s.path);
    assert.ok(limitMatch(s.path, ev), s.path);
  }
});

test('ingest: the distinct filters match neither reference event; only the sentinel filter matches the sentinel event', () => {
  const [sentinel, ...rest] = ingestSubscriptions(1000);
  assert.equal(new Set(rest.map((s) => filterKey(parse(query(s.path))))).size, 1000);
  for (const kind of ['small', 'full'] as const) {
    const maker = new EventMaker(kind);
    const plain = maker.make(3, nowMs());
    const marked = sentinelEvent(maker, 1);
    assert.ok(productMatch(sentinel.path, marked), `${kind}: sentinel event matches its filter`);
    assert.ok(!productMatch(sentinel.path, plain), `${kind}: plain event does not match the sentinel filter`);
    for (const s of rest) {
      assert.ok(!productMatch(s.path, plain), `${kind} ${s.path}`);
      assert.ok(!productMatch(s.path, marked), `${kind} ${s.path}`);
    }
  }
});
