import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readHeaders } from '../../src/http/headers.js';
import type { UWS } from '../../src/uws.js';

/** readHeaders on header lines as uWS hands them (lower-case names, in order); no server needed. */
const read = (lines: [string, string][]) =>
  readHeaders({
    forEach: (cb: (k: string, v: string) => void) => {
      for (const [k, v] of lines) cb(k, v);
    },
  } as unknown as UWS.HttpRequest);

test('body framing the gateway trusts: one decimal Content-Length, or Transfer-Encoding exactly chunked', () => {
  for (const lines of [[['content-length', '0']], [['content-length', '123']], [['transfer-encoding', 'chunked']], [['transfer-encoding', 'CHUNKED']], []] as [
    string,
    string,
  ][][]) {
    assert.equal(read(lines).problem, undefined, JSON.stringify(lines));
  }
});

test('untrusted framing is a 400/12012 naming the header (uWS drops some of these before the application)', () => {
  const cases: [[string, string][], RegExp][] = [
    [[['transfer-encoding', 'xchunked']], /Transfer-Encoding' must be 'chunked'/],
    [[['transfer-encoding', 'chunked, identity']], /Transfer-Encoding' must be 'chunked'/],
    [[['transfer-encoding', '']], /Transfer-Encoding' must be 'chunked'/],
    [[['content-length', '+2']], /Content-Length' must be a decimal/],
    [[['content-length', '2, 2']], /Content-Length' must be a decimal/],
    [[['content-length', '9999999999999999']], /Content-Length' must be a decimal/],
    [
      [
        ['content-length', '2'],
        ['transfer-encoding', 'chunked'],
      ],
      /both given/,
    ],
    [
      [
        ['content-length', '2'],
        ['content-length', '2'],
      ],
      /Content-Length' is given more than once/,
    ],
  ];
  for (const [lines, re] of cases) {
    const p = read(lines).problem;
    assert.equal(p?.status, 400, JSON.stringify(lines));
    assert.equal(p?.def.code, 12012);
    assert.match(p!.detail, re);
  }
});
