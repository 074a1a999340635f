import assert from 'node:assert/strict';
import { test } from 'node:test';
import { History } from '../../src/history/index.js';

const ev = (id: string, bytes = 10) => ({ id, account: 'a', frame: new Uint8Array(bytes), facts: new Uint8Array(0) });

test('the history holds every event above its floor, in order, within the byte bound', () => {
  const h = new History({ maxBytes: 3 * (10 + 160) });
  h.reset('e', '5-0');
  for (const id of ['6-0', '6-1', '7-0', '8-0']) h.append(ev(id));
  assert.equal(h.heldEvents, 3);
  assert.equal(h.floorId, '6-0', 'the dropped event is the floor: everything after it is held');
  assert.ok(h.covers(6, 0) && !h.covers(5, 9));
  assert.equal(h.at(h.seqAfter(6, 1))?.id, '7-0');
  assert.equal(h.seqAfter(8, 0), h.end, 'nothing after the newest');
  assert.equal(h.at(h.start - 1), undefined);
});

test("age alone drops nothing (a quiet subscriber's old position stays covered): only the byte bound does", () => {
  const h = new History({ maxBytes: 1e9 });
  h.reset('e', '0-0');
  h.append(ev('1000-0'));
  h.append(ev(`${Date.now()}-0`));
  assert.deepEqual([h.at(h.start)?.id, h.heldEvents, h.floorId], ['1000-0', 2, '0-0']);
});

test('prepend puts older events from the bus before the live ones; the byte bound keeps the newest', () => {
  const h = new History({ maxBytes: 4 * (10 + 160) });
  h.reset('e', '10-0');
  h.append(ev('11-0'));
  h.prepend([ev('7-0'), ev('8-0'), ev('9-0'), ev('10-0')], '6-0');
  const ids = [];
  for (let s = h.start; s < h.end; s++) ids.push(h.at(s)?.id);
  assert.deepEqual(ids, ['8-0', '9-0', '10-0', '11-0']);
  assert.equal(h.floorId, '7-0', 'the newest event that did not fit is the floor');
  const all = new History({ maxBytes: 1e9 });
  all.reset('e', '10-0');
  all.prepend([ev('7-0'), ev('10-0')], '6-0');
  assert.equal(all.floorId, '6-0', 'everything after the preload start is held');
  assert.equal(all.heldEvents, 2);
});
