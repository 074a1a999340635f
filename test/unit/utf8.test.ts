import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import { scanUtf8, utf8ErrorOffset } from '../../src/events/utf8.js';

function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Bytes at the edges of every range of the UTF-8 table, so random strings hit each boundary.
const EDGES = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
];

test('regression: invalid UTF-8 is found: the slow scan agrees with the native isUtf8 on 200k random strings', () => {
  const r = prng(7);
  for (let i = 0; i < 200_000; i++) {
    const b = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 6) }, () => EDGES[Math.floor(r() * EDGES.length)]));
    const at = scanUtf8(b);
    assert.equal(at === -1, isUtf8(b), `scan and isUtf8 disagree on ${b.toString('hex')}`);
    // Everything before the reported offset is well-formed.
    if (at !== -1) assert.ok(isUtf8(b.subarray(0, at)), `prefix before ${at} of ${b.toString('hex')} is not valid`);
  }
});

test('regression: invalid UTF-8 is found: offsets of the classic bad sequences', () => {
  const cases: [string, number][] = [
    ['636166e9', 3], // Latin-1 "café"
    ['fffe', 0],
    ['41c0af', 1], // overlong '/'
    ['41e282', 1], // truncated euro sign
    ['e2822241', 0], // truncated, then more text
    ['eda080', 0], // CESU-8 surrogate U+D800
    ['f4908080', 0], // above U+10FFFF
    ['c3a980', 2], // a stray continuation byte after "é"
  ];
  for (const [hex, at] of cases) assert.equal(utf8ErrorOffset(Buffer.from(hex, 'hex')), at, hex);
  assert.equal(utf8ErrorOffset(Buffer.from('café €𝄞 \\ud800', 'utf8')), -1);
});
