import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arrayElementSpans } from '../../src/events/index.js';
import { prng } from '../helpers/prng.js';

/** Random JSON text with random (valid) whitespace everywhere, tricky strings and numbers. */
function gen(r: () => number, depth: number): string {
  const ws = () => [' ', '', '\n', '\t', '  ', '\r\n'][Math.floor(r() * 6)];
  const k = Math.floor(r() * 10);
  if (depth > 3 || k < 4) {
    return ['1', '-0.5e+10', '18446744073709551615', 'true', 'false', 'null', '"a\\"b"', '"\\\\"', '"]}[{,:"', '"é\\u00e9💥"', '""'][Math.floor(r() * 11)];
  }
  if (k < 7) return `[${ws()}${Array.from({ length: Math.floor(r() * 4) }, () => ws() + gen(r, depth + 1) + ws()).join(',')}]`;
  const keys = ['"a"', '"events"', '"\\u0065vents"', '"x\\"y"', '"]"'];
  return `{${ws()}${Array.from({ length: Math.floor(r() * 4) }, () => `${ws()}${keys[Math.floor(r() * keys.length)]}${ws()}:${ws()}${gen(r, depth + 1)}${ws()}`).join(',')}}`;
}

test('spans of the events array are exactly the elements JSON.parse sees, for 5000 random documents', () => {
  const r = prng(42);
  for (let i = 0; i < 5000; i++) {
    const ws = () => [' ', '', '\n  '][Math.floor(r() * 3)];
    const items = Array.from({ length: Math.floor(r() * 4) }, () => gen(r, 0));
    const before = r() < 0.5 ? `"a"${ws()}:${ws()}${gen(r, 1)},${ws()}` : '';
    const dup = r() < 0.2 ? `,${ws()}"events":${ws()}[${gen(r, 2)}]` : '';
    const text = `${ws()}{${ws()}${before}"events"${ws()}:${ws()}[${ws()}${items.join(`${ws()},${ws()}`)}${ws()}]${dup}${ws()}}${ws()}`;
    const buf = Buffer.from(text);
    const parsed = JSON.parse(text) as { events: unknown[] };
    const spans = arrayElementSpans(buf, 'events');
    assert.ok(spans, text);
    assert.equal(spans.length, parsed.events.length, text);
    for (const [j, [a, b]] of spans.entries()) assert.deepEqual(JSON.parse(buf.toString('utf8', a, b)), parsed.events[j], text);
  }
});

test('a key that is not an array, or absent, gives undefined', () => {
  assert.equal(arrayElementSpans(Buffer.from('{"events": 5}'), 'events'), undefined);
  assert.equal(arrayElementSpans(Buffer.from('{"other": []}'), 'events'), undefined);
  assert.equal(arrayElementSpans(Buffer.from('[]'), 'events'), undefined);
  assert.deepEqual(arrayElementSpans(Buffer.from('{"events":[]}'), 'events'), []);
});
