import { connect as netConnect, type Socket } from 'node:net';

/**
 * A bare WebSocket client on a TCP socket, for tests that need to control reading exactly (a
 * slow consumer that really stops reading: the `ws` library resumes its socket by itself).
 * Only what tests need: the handshake, then parsing server frames (unmasked) until a close frame.
 */
export interface RawWs {
  socket: Socket;
  /** Writes one client frame (masked, as RFC 6455 requires): any opcode, FIN set or not. */
  sendFrame(opcode: number, payload: Uint8Array, fin?: boolean): void;
  /** Reads (resuming the socket) until the close frame; resolves with its code and reason, or 1006 if the TCP connection ends first. */
  readUntilClose(timeoutMs?: number, onMessage?: (payload: Buffer) => void): Promise<{ code: number; reason: string; messages: number; pings: number }>;
}

export function rawWs(port: number, path: string, headers: Record<string, string>): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.on('error', reject);
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      ),
    );
    let head = Buffer.alloc(0);
    const onHead = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onHead);
      socket.pause();
      if (!head.subarray(0, 12).toString().includes('101')) return reject(new Error(head.toString()));
      let buf: Buffer = head.subarray(end + 4);
      resolve({
        socket,
        sendFrame(opcode, payload, fin = true) {
          socket.write(clientFrame(opcode, payload, fin));
        },
        readUntilClose(timeoutMs = 30000, onMessage) {
          return new Promise((res) => {
            let messages = 0;
            let pings = 0;
            const timer = setTimeout(() => res({ code: -1, reason: 'timeout', messages, pings }), timeoutMs);
            const parse = () => {
              for (;;) {
                if (buf.length < 2) return;
                const opcode = buf[0] & 0x0f;
                let len = buf[1] & 0x7f;
                let off = 2;
                if (len === 126) {
                  if (buf.length < 4) return;
                  len = buf.readUInt16BE(2);
                  off = 4;
                } else if (len === 127) {
                  if (buf.length < 10) return;
                  len = Number(buf.readBigUInt64BE(2));
                  off = 10;
                }
                if (buf.length < off + len) return;
                const payload = buf.subarray(off, off + len);
                buf = buf.subarray(off + len);
                if (opcode === 0x8) {
                  clearTimeout(timer);
                  socket.destroy();
                  return res({ code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString(), messages, pings });
                }
                if (opcode === 0x1 || opcode === 0x2) {
                  messages++;
                  onMessage?.(payload);
                }
                if (opcode === 0x9) pings++;
              }
            };
            socket.on('data', (d: Buffer) => {
              buf = buf.length ? Buffer.concat([buf, d]) : d;
              parse();
            });
            socket.on('close', () => {
              clearTimeout(timer);
              res({ code: 1006, reason: '', messages, pings });
            });
            parse();
            socket.resume();
          });
        },
      });
    };
    socket.on('data', onHead);
  });
}

/** A masked client frame; the mask is fixed (tests need no secrecy, only the masking rule). */
export function clientFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + lenBytes + 4 + n);
  out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  out[1] = 0x80 | (lenBytes === 0 ? n : lenBytes === 2 ? 126 : 127);
  if (lenBytes === 2) out.writeUInt16BE(n, 2);
  else if (lenBytes === 8) out.writeBigUInt64BE(BigInt(n), 2);
  const maskAt = 2 + lenBytes;
  const mask = [0x12, 0x34, 0x56, 0x78];
  for (let i = 0; i < 4; i++) out[maskAt + i] = mask[i];
  for (let i = 0; i < n; i++) out[maskAt + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}
