import WebSocket from 'ws';

export interface Client {
  ws: WebSocket;
  /** Raw text of every message received, in order. */
  messages: string[];
  /** Resolves when at least n messages arrived (rejects after timeoutMs: a deadline, not a timing assert). */
  waitFor(n: number, timeoutMs?: number): Promise<string[]>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** A real WebSocket client; resolves once the 101 arrived, rejects with the HTTP answer otherwise. */
export function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
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
        closed,
        close: () => ws.close(),
        waitFor(n, timeoutMs = 10000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`got ${messages.length} of ${n} messages`)), timeoutMs);
            const check = () => {
              if (messages.length >= n) {
                clearTimeout(timer);
                res(messages);
              } else waiters.push(check);
            };
            check();
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
