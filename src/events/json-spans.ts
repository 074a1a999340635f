/**
 * Finds the byte ranges of the elements of one top-level array in a JSON document, so each event
 * can be forwarded byte-for-byte. Precondition: `buf` is valid JSON whose top level is an object
 * (the caller has already run JSON.parse on it). Works on UTF-8 bytes: every structural character
 * is ASCII and never occurs inside a multi-byte sequence. A repeated key takes the last occurrence,
 * as JSON.parse does. Returns undefined when the key is absent or its value is not an array.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the string starting at `i` (which holds the opening quote). */
function skipString(buf: Buffer, i: number): number {
  i++;
  while (i < buf.length) {
    const c = buf[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return i;
}

/** Index just past the value starting at `i`. */
function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c === OPEN_OBJ || c === OPEN_ARR) {
    let depth = 0;
    while (i < buf.length) {
      const d = buf[i];
      if (d === QUOTE) {
        i = skipString(buf, i);
        continue;
      }
      if (d === OPEN_OBJ || d === OPEN_ARR) depth++;
      else if (d === CLOSE_OBJ || d === CLOSE_ARR) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < buf.length) {
    const d = buf[i];
    if (d === COMMA || d === CLOSE_OBJ || d === CLOSE_ARR || isSpace(d)) break;
    i++;
  }
  return i;
}

export function arrayElementSpans(buf: Buffer, key: string): Array<[number, number]> | undefined {
  let i = skipSpace(buf, 0);
  if (buf[i] !== OPEN_OBJ) return undefined;
  i = skipSpace(buf, i + 1);
  let found: Array<[number, number]> | undefined;
  while (i < buf.length && buf[i] !== CLOSE_OBJ) {
    const keyStart = i;
    i = skipString(buf, i);
    const name = JSON.parse(buf.toString('utf8', keyStart, i)) as string;
    i = skipSpace(buf, i);
    i = skipSpace(buf, i + 1); // past ':'
    if (name === key) {
      found = undefined;
      if (buf[i] === OPEN_ARR) {
        found = [];
        i = skipSpace(buf, i + 1);
        while (buf[i] !== CLOSE_ARR) {
          const start = i;
          i = skipValue(buf, i);
          found.push([start, i]);
          i = skipSpace(buf, i);
          if (buf[i] === COMMA) i = skipSpace(buf, i + 1);
        }
        i++;
      } else {
        i = skipValue(buf, i);
      }
    } else {
      i = skipValue(buf, i);
    }
    i = skipSpace(buf, i);
    if (buf[i] === COMMA) i = skipSpace(buf, i + 1);
  }
  return found;
}
