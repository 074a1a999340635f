import { uws } from '../../../src/uws.js';
import { type Ev, type Filter, filterKey, matches, parseFilter } from './simple-filter.js';

/**
 * The ceiling: the least work a uWebSockets.js gateway can do for this load. No bus, no
 * validation, no request ids: POST /2/publish parses the body, builds each event's message once and
 * publishes it. It re-serialises the event (JSON.stringify), which the product must not do; that is
 * parsing cost, not fan-out cost, and it is paid once per event.
 *
 * Two modes (env CEILING_FILTERS):
 *  - unset: one topic per account, no filters; uWS copies the same bytes to every subscriber.
 *  - `1` (the "limit" server, the fair limit line): the product's delivery shape without the
 *    product. One topic per (account, distinct filter); per event, one filter check per distinct
 *    filter of the account and one publish per matching topic, so each subscriber gets exactly the
 *    frames the product sends it, in the same socket writes (uWS drains a socket's topics once per
 *    loop iteration).
 * Env: PORT (0 = any). Prints `listening on port N`.
 */
const FILTERED = process.env.CEILING_FILTERS === '1';
const app = uws.App();
const decoder = new TextDecoder();

interface Topic {
  readonly name: string;
  readonly filter: Filter;
  readonly all: boolean;
  subscribers: number;
}
/** Per account: its distinct filters (filtered mode). */
const topics = new Map<string, Map<string, Topic>>();

function topicFor(account: string, query: string): Topic {
  let byKey = topics.get(account);
  if (byKey === undefined) {
    byKey = new Map();
    topics.set(account, byKey);
  }
  const q = new URLSearchParams(query);
  q.delete('luna_account_id');
  const filter = parseFilter(q);
  const key = filterKey(filter);
  let t = byKey.get(key);
  if (t === undefined) {
    t = { name: `${account}|${key}`, filter, all: Object.keys(filter).length === 0, subscribers: 0 };
    byKey.set(key, t);
  }
  return t;
}

app.ws<{ account: string; query: string; topic?: Topic }>('/2/ws', {
  maxPayloadLength: 16 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  closeOnBackpressureLimit: 1,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const query = req.getQuery() ?? '';
    const account = req.getHeader('luna-account-id') || new URLSearchParams(query).get('luna_account_id') || '';
    res.upgrade(
      { account, query },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    const d = ws.getUserData();
    if (!FILTERED) {
      ws.subscribe(d.account);
      return;
    }
    d.topic = topicFor(d.account, d.query);
    d.topic.subscribers++;
    ws.subscribe(d.topic.name);
  },
  close: (ws) => {
    const t = ws.getUserData().topic;
    if (t !== undefined && --t.subscribers === 0) topics.get(ws.getUserData().account)?.delete(filterKey(t.filter));
  },
});

app.post('/2/publish', (res, req) => {
  const account = req.getHeader('luna-account-id');
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const chunks: Buffer[] = [];
  res.onData((ab, isLast) => {
    chunks.push(Buffer.from(ab.slice(0)));
    if (!isLast) return;
    const body = JSON.parse(decoder.decode(Buffer.concat(chunks))) as {
      events: Ev[];
      handler_id: string;
      event_create_time: string;
      event_end_time: string;
    };
    const tail = `, "handler_id": ${JSON.stringify(body.handler_id)}, "event-create-time": ${JSON.stringify(body.event_create_time)}, "event-end-time": ${JSON.stringify(body.event_end_time)}, "Luna-Request-id": "0000000000,00000000-0000-0000-0000-000000000000"}`;
    const mine = FILTERED ? [...(topics.get(account)?.values() ?? [])] : [];
    for (const ev of body.events) {
      if (!FILTERED) {
        app.publish(account, `{"event": ${JSON.stringify(ev)}${tail}`, false, false);
        continue;
      }
      // Bytes, as the product hands them to uWS: built once, shared by every matching topic.
      const frame = Buffer.from(`{"event": ${JSON.stringify(ev)}${tail}`);
      for (const t of mine) if (t.all || matches(t.filter, ev)) app.publish(t.name, frame, false, false);
    }
    if (aborted) return;
    res.cork(() => {
      res.writeStatus('201 Created').writeHeader('Content-Type', 'application/json').end(`{"published":${body.events.length}}`);
    });
  });
});

app.listen('127.0.0.1', Number(process.env.PORT ?? 0), (s) => {
  if (!s) {
    process.stderr.write('ceiling: cannot listen\n');
    process.exit(1);
  }
  process.stdout.write(`listening on port ${uws.us_socket_local_port(s as unknown as Parameters<typeof uws.us_socket_local_port>[0])}\n`);
});
process.on('SIGTERM', () => process.exit(0));
