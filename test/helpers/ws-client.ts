import WebSocket from 'ws';
import { withTimeout } from './timeout.js';

export interface Client {
  ws: WebSocket;
  /** Raw text of every message received, in order. */
  messages: string[];
  /** Resolves when at least n messages arrived (rejects after timeoutMs: a deadline, not a timing assert). */
  waitFor(n: number, timeoutMs?: number): Promise<string[]>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
  /** Headers of the 101 answer (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A real WebSocket client; resolves once the 101 arrived, rejects with the HTTP answer otherwise.
 * `protocols`: the subprotocols offered (Sec-WebSocket-Protocol), as a browser's second argument;
 * `options`: client options (e.g. `ca` for a test certificate).
 */
export function connect(url: string, headers: Record<string, string> = {}, protocols?: string[], options: WebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = protocols === undefined ? new WebSocket(url, { headers, ...options }) : new WebSocket(url, protocols, { headers, ...options });
    let upgradeHeaders: Client['headers'] = {};
    ws.on('upgrade', (res) => {
      upgradeHeaders = res.headers;
    });
    const messages: string[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (data) => {
      messages.push(data.toString());
      for (const w of waiters.splice(0)) w();
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body, headers: res.headers })));
    });
    ws.on('error', (e) => reject(e));
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        headers: upgradeHeaders,
        closed,
        close: () => ws.close(),
        waitFor(n, timeoutMs = 10000) {
          const enough = new Promise<string[]>((res) => {
            const check = () => (messages.length >= n ? res(messages) : waiters.push(check));
            check();
          });
          return withTimeout(enough, timeoutMs, `${n} messages`).catch((err: Error) => {
            throw new Error(`got ${messages.length} of ${n} messages (${err.message})`);
          });
        },
      }),
    );
  });
}

export interface HttpError extends Error {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}
