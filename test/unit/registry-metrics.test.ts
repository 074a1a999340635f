import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../src/fanout/index.js';
import { encodeFacts, extractFacts, filterKey, parseFilterQuery } from '../../src/filters/index.js';
import { Metrics } from '../../src/metrics.js';

const ACCOUNT = '8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';

function subscribe(registry: Registry, query: string): string {
  const parsed = parseFilterQuery(query, { maxListItems: 100 });
  assert.ok(parsed.ok);
  const key = filterKey(parsed.filter);
  return registry.subscribe(ACCOUNT, key, registry.prepare(parsed.filter, key));
}

test("the registry counts uWS publish's false (no socket on the topic) and bad facts as a malformed stream entry", () => {
  const metrics = new Metrics();
  const heard = new Set<string>();
  const registry = new Registry((topic) => heard.has(topic), metrics);
  // uWS has a socket on the empty filter's topic only.
  heard.add(subscribe(registry, ''));
  subscribe(registry, 'gender=1');
  const frame = new TextEncoder().encode('{}');
  const facts = encodeFacts(extractFacts({ face_attributes: { basic_attributes: { gender: 1 } } }, 'h'));
  registry.deliver({ seq: 0, id: '1-0', ms: 1, idSeq: 0, account: ACCOUNT, frame, facts }, 'e');
  assert.equal(metrics.topicPublishes, 2);
  assert.equal(metrics.topicPublishesNoSubscriber, 1);
  registry.deliver({ seq: 1, id: '1-1', ms: 1, idSeq: 1, account: ACCOUNT, frame, facts: Uint8Array.of(0xc1) }, 'e');
  assert.equal(metrics.malformedFacts, 1);
  assert.equal(metrics.malformedLunaMessages, 0);
  assert.equal(metrics.eventsIn, 2);
  assert.equal(metrics.topicPublishes, 2);
});
