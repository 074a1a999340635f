import { connect as netConnect } from 'node:net';

export interface RawAnswer {
  /** The status code of the first response, or 0 when none arrived. */
  status: number;
  head: string;
  body: string;
  /** The server closed the connection (rather than the deadline ending the wait). */
  closedByServer: boolean;
}

/**
 * Writes `request` (bytes exactly as given: repeated header lines, non-ASCII bytes) on a fresh TCP
 * connection and reads until the server closes it or `deadlineMs` passes (a deadline, not a timing
 * assertion), or with `firstAnswer` only until the first response is complete (a 101: its head).
 * The first response is split into head and body by its Content-Length.
 */
export function rawHttp(port: number, request: string | Buffer, deadlineMs = 10000, firstAnswer = false): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(request));
    let got = Buffer.alloc(0);
    let closedByServer = false;
    const timer = setTimeout(() => s.destroy(), deadlineMs);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (firstAnswer && complete(got)) s.destroy();
    });
    s.on('end', () => (closedByServer = true));
    s.on('error', () => (closedByServer = true));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseResponse(got), closedByServer });
    });
  });
}

export function parseResponse(got: Buffer): { status: number; head: string; body: string } {
  const end = got.indexOf('\r\n\r\n');
  if (end === -1) return { status: 0, head: got.toString('latin1'), body: '' };
  const head = got.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  if (/^transfer-encoding:\s*chunked/im.test(head)) return { status, head, body: dechunk(got.subarray(end + 4)) };
  const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
  return { status, head, body: got.subarray(end + 4, end + 4 + length).toString('utf8') };
}

/** The chunks that arrived completely, joined. */
function dechunk(rest: Buffer): string {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) break;
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (!(size > 0) || rest.length < eol + 2 + size) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 4 + size);
  }
  return Buffer.concat(parts).toString('utf8');
}

function complete(got: Buffer): boolean {
  const end = got.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const head = got.subarray(0, end).toString('latin1');
  if (/^HTTP\/1\.1 101/.test(head)) return true;
  if (/^transfer-encoding:\s*chunked/im.test(head)) return got.includes('\r\n0\r\n\r\n', end);
  return got.length >= end + 4 + Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
}
