import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

/**
 * A minimal WebSocket client for load generation: one TCP socket, the RFC 6455 handshake, and a
 * frame parser that hands each server frame's payload to a callback as (buffer, start, end) without
 * copying or decoding it. It answers pings (so the server keeps idle sockets) and close frames.
 * Measured reason: the `ws` library allocates and emits per message, which made one client core
 * the bottleneck before the server; this keeps the client side cheap so the server is what we measure.
 * Server frames are never masked; fragmented messages are not used by any server under test.
 */
export type FrameHandler = (buf: Buffer, start: number, end: number) => void;

const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;

export class RawWs {
  onFrame: FrameHandler = () => undefined;
  onClose: (code: number) => void = () => undefined;
  closed = false;
  /** The 101 response head (status line and headers, latin1), for headers such as Luna-Stream-Position. */
  head = '';
  private pending: Buffer | null = null;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.finish(1006));
    socket.on('error', () => this.finish(1006));
  }

  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(code);
  }

  /** Parses as many whole frames as the buffered bytes hold; keeps the rest for the next chunk. */
  onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    const len = buf.length;
    while (len - pos >= 2) {
      const b0 = buf[pos];
      let plen = buf[pos + 1] & 0x7f;
      let hdr = 2;
      if (plen === 126) {
        if (len - pos < 4) break;
        plen = buf.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (plen === 127) {
        if (len - pos < 10) break;
        plen = Number(buf.readBigUInt64BE(pos + 2));
        hdr = 10;
      }
      if (len - pos < hdr + plen) break;
      const start = pos + hdr;
      const end = start + plen;
      const op = b0 & 0x0f;
      if (op === OP_TEXT || op === OP_BINARY || op === 0) this.onFrame(buf, start, end);
      else if (op === OP_PING) this.sendFrame(0xa, buf.subarray(start, end));
      else if (op === OP_CLOSE) {
        const code = plen >= 2 ? buf.readUInt16BE(start) : 1005;
        this.sendFrame(OP_CLOSE, buf.subarray(start, Math.min(end, start + 2)));
        this.socket.end();
        this.finish(code);
        return;
      }
      pos = end;
    }
    if (pos < len) this.pending = pos === 0 ? buf : Buffer.from(buf.subarray(pos));
  }

  /** A masked client frame (mask key 0: valid, and the payload needs no transform). */
  sendFrame(op: number, payload: Buffer): void {
    if (this.closed || payload.length > 125) return;
    const h = Buffer.alloc(6);
    h[0] = 0x80 | op;
    h[1] = 0x80 | payload.length;
    this.socket.write(Buffer.concat([h, payload]));
  }

  close(): void {
    if (this.closed) return;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.sendFrame(OP_CLOSE, code);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.finish(1006);
  }
}

export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`handshake failed: HTTP ${status} ${body.slice(0, 200)}`);
  }
}

/**
 * Opens a WebSocket on 127.0.0.1:port; resolves once the 101 has been read. `localAddress` binds
 * the client end to another loopback source address (127.0.0.x), so many thousands of connections
 * (and reconnections, whose old ends sit in TIME_WAIT) do not exhaust one address's ephemeral ports.
 * `host` (another 127.0.0.x, server listening on 0.0.0.0) does the same without a bind: measured
 * reason: bind() to a source address with port 0 searches that address's used ports, which slowed
 * clients to ~2 ms of CPU per connection past 15k sockets per address; connect() without bind
 * picks a port per destination cheaply.
 */
export function connectWs(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  timeoutMs = 10000,
  localAddress?: string,
  /** PEM of the certificate to trust: the connection is wss (TLS) instead of ws. */
  ca?: string,
  host = '127.0.0.1',
): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    // tls.connect passes localAddress on to its TCP socket; its typings only lack it.
    const tlsOptions = { host, port, localAddress, ca } as ConnectionOptions;
    const socket = ca === undefined ? tcpConnect({ host, port, noDelay: true, localAddress }) : tlsConnect(tlsOptions);
    if (ca !== undefined) socket.setNoDelay(true);
    let acc: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`handshake timeout ${path}`));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once(ca === undefined ? 'connect' : 'secureConnect', () => {
      let req = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
      req += `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n`;
      for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
      socket.write(`${req}\r\n`);
    });
    const onData = (chunk: Buffer) => {
      acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
      const end = acc.indexOf('\r\n\r\n');
      if (end < 0) {
        if (acc.length > 65536) fail(new Error('handshake response too large'));
        return;
      }
      const head = acc.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status !== 101) {
        // Read what there is of the body for the message; the socket is closed.
        fail(new HandshakeError(status, acc.subarray(end + 4).toString('utf8')));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      // Frames may follow the 101 in the same chunk (a resumed subscription's replay does): hold
      // them, and the socket, until the caller has set onFrame (its await resumes in a microtask,
      // before the next macrotask), so none is handed to the default handler and order is kept.
      socket.pause();
      const ws = new RawWs(socket);
      ws.head = head;
      const rest = Buffer.from(acc.subarray(end + 4));
      resolve(ws);
      setImmediate(() => {
        if (rest.length > 0 && !ws.closed) ws.onData(rest);
        socket.resume();
      });
    };
    socket.on('data', onData);
  });
}

/**
 * Reads the number after the first `"ts":` within the first 48 bytes of a frame payload, without
 * decoding the frame (every server under test starts the message with `{"event": {"ts":<ms>,`).
 * NaN when absent.
 */
export function readTs(buf: Buffer, start: number, end: number): number {
  const lim = Math.min(end - 5, start + 48);
  for (let i = start; i < lim; i++) {
    if (buf[i] === 0x22 && buf[i + 1] === 0x74 && buf[i + 2] === 0x73 && buf[i + 3] === 0x22 && buf[i + 4] === 0x3a) {
      let j = i + 5;
      while (buf[j] === 0x20) j++;
      let v = 0;
      let c = buf[j];
      while (c >= 0x30 && c <= 0x39) {
        v = v * 10 + (c - 0x30);
        c = buf[++j];
      }
      if (c === 0x2e) {
        let scale = 0.1;
        c = buf[++j];
        while (c >= 0x30 && c <= 0x39) {
          v += (c - 0x30) * scale;
          scale /= 10;
          c = buf[++j];
        }
      }
      return v;
    }
  }
  return NaN;
}

/** A response header of the 101 (case-insensitive name), or undefined. */
export function headerOf(head: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, 'im').exec(head);
  return m?.[1];
}

/**
 * Reads the non-negative integer after `marker` (e.g. `"n":`) within the first `within` bytes of a
 * frame payload, without decoding it; -1 when absent.
 */
export function readIntAfter(buf: Buffer, start: number, end: number, marker: Buffer, within = 96): number {
  const lim = Math.min(end - marker.length, start + within);
  let at = -1;
  for (let i = start; i < lim && at < 0; i++) {
    if (buf[i] !== marker[0]) continue;
    let k = 1;
    while (k < marker.length && buf[i + k] === marker[k]) k++;
    if (k === marker.length) at = i;
  }
  if (at < 0) return -1;
  let j = at + marker.length;
  while (buf[j] === 0x20) j++;
  let v = 0;
  let c = buf[j];
  if (!(c >= 0x30 && c <= 0x39)) return -1;
  while (c >= 0x30 && c <= 0x39 && j < end) {
    v = v * 10 + (c - 0x30);
    c = buf[++j];
  }
  return v;
}

/**
 * The token of a `positions=1` frame, read from its end (`…, "position": "<token>"}`, SPEC 9);
 * '' when the frame does not end that way.
 */
export function readPosition(buf: Buffer, start: number, end: number): string {
  if (end - start < 4 || buf[end - 1] !== 0x7d || buf[end - 2] !== 0x22) return '';
  const close = end - 2;
  const lim = Math.max(start, close - 90);
  for (let i = close - 1; i >= lim; i--) if (buf[i] === 0x22) return buf.toString('latin1', i + 1, close);
  return '';
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pool<T>(items: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(items);
  let next = 0;
  const worker = async () => {
    while (next < items) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items) }, worker));
  return out;
}
