import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Ev, type Filter, matches, parseFilter } from './simple-filter.js';

/**
 * The baseline: how most Node teams would write this gateway. node:http + the `ws` library; each
 * subscriber keeps its parsed query as a filter object; per event, the server walks the account's
 * subscribers, interprets each filter, and sends `JSON.stringify(message)` to each match.
 * Supports the filters the benchmarks use (gender, age__gte, age__lt, sources, user_data, emotions).
 * Env: PORT (0 = any). Prints `listening on port N`.
 */
interface Sub {
  ws: WebSocket;
  filter: Filter;
}

const subsByAccount = new Map<string, Set<Sub>>();

const server = createServer((req, res) => {
  if (req.method !== 'POST' || !req.url?.startsWith('/2/publish')) {
    res.writeHead(404).end();
    return;
  }
  const account = String(req.headers['luna-account-id'] ?? '');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Ev[]; handler_id: string; event_create_time: string; event_end_time: string };
    const subs = subsByAccount.get(account);
    for (const event of body.events) {
      if (subs === undefined) break;
      for (const s of subs) {
        if (!matches(s.filter, event)) continue;
        s.ws.send(
          JSON.stringify({
            event,
            handler_id: body.handler_id,
            'event-create-time': body.event_create_time,
            'event-end-time': body.event_end_time,
            'Luna-Request-id': '0000000000,00000000-0000-0000-0000-000000000000',
          }),
        );
      }
    }
    res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ published: body.events.length }));
  });
});

const wss = new WebSocketServer({ server, path: '/2/ws', maxPayload: 16 * 1024 });
wss.on('connection', (ws, req) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const account = String(req.headers['luna-account-id'] ?? url.searchParams.get('luna_account_id') ?? '');
  url.searchParams.delete('luna_account_id');
  const sub: Sub = { ws, filter: parseFilter(url.searchParams) };
  let set = subsByAccount.get(account);
  if (set === undefined) {
    set = new Set();
    subsByAccount.set(account, set);
  }
  set.add(sub);
  ws.on('close', () => set!.delete(sub));
  ws.on('error', () => undefined);
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`listening on port ${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
