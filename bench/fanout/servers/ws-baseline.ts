import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The baseline: how most Node teams would write this gateway. node:http + the `ws` library; each
 * subscriber keeps its parsed query as a filter object; per event, the server walks the account's
 * subscribers, interprets each filter, and sends `JSON.stringify(message)` to each match.
 * Supports the filters the benchmarks use (gender, age__gte, age__lt, sources, user_data, emotions).
 * Env: PORT (0 = any). Prints `listening on port N`.
 */
interface Filter {
  gender?: number;
  age__gte?: number;
  age__lt?: number;
  sources?: string[];
  user_data?: string;
  emotions?: string[];
}

interface Sub {
  ws: WebSocket;
  filter: Filter;
}

type Ev = {
  source?: string;
  user_data?: string;
  face_attributes?: { basic_attributes?: { age?: number; gender?: number } };
  aggregate_estimations?: { face?: { attributes?: { emotions?: { predominant_emotion?: string } } } };
};

const EMOTIONS = ['', 'anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise'];
const subsByAccount = new Map<string, Set<Sub>>();

function parseFilter(q: URLSearchParams): Filter {
  const f: Filter = {};
  if (q.has('gender')) f.gender = Number(q.get('gender'));
  if (q.has('age__gte')) f.age__gte = Number(q.get('age__gte'));
  if (q.has('age__lt')) f.age__lt = Number(q.get('age__lt'));
  if (q.has('sources')) f.sources = q.get('sources')!.split(',');
  if (q.has('user_data')) f.user_data = q.get('user_data')!;
  if (q.has('emotions'))
    f.emotions = q
      .get('emotions')!
      .split(',')
      .map((n) => EMOTIONS[Number(n)]);
  return f;
}

function matches(f: Filter, e: Ev): boolean {
  const basic = e.face_attributes?.basic_attributes;
  if (f.gender !== undefined && basic?.gender !== f.gender) return false;
  if (f.age__gte !== undefined && !(basic?.age !== undefined && basic.age >= f.age__gte)) return false;
  if (f.age__lt !== undefined && !(basic?.age !== undefined && basic.age < f.age__lt)) return false;
  if (f.sources !== undefined && !(e.source !== undefined && f.sources.includes(e.source))) return false;
  if (f.user_data !== undefined && !e.user_data?.includes(f.user_data)) return false;
  if (f.emotions !== undefined) {
    const em = e.aggregate_estimations?.face?.attributes?.emotions?.predominant_emotion;
    if (em === undefined || !f.emotions.includes(em)) return false;
  }
  return true;
}

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
