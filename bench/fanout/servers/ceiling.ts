import { uws } from '../../../src/uws.js';

/**
 * The ceiling: the least work a uWebSockets.js gateway can do for this load. One topic per
 * account, no filters: POST /2/publish parses the body, builds each event's message once and
 * publishes it to the account's topic, so uWS copies the same bytes to every subscriber. No bus,
 * no validation, no request ids. It re-serialises the event (JSON.stringify), which the product
 * must not do; that is parsing cost, not fan-out cost, and it is paid once per event.
 * Env: PORT (0 = any). Prints `listening on port N`.
 */
const app = uws.App();
const decoder = new TextDecoder();

app.ws<{ account: string }>('/2/ws', {
  maxPayloadLength: 16 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  closeOnBackpressureLimit: 1,
  idleTimeout: 120,
  upgrade: (res, req, context) => {
    const account = req.getHeader('luna-account-id') || new URLSearchParams(req.getQuery() ?? '').get('luna_account_id') || '';
    res.upgrade({ account }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open: (ws) => {
    ws.subscribe(ws.getUserData().account);
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
      events: unknown[];
      handler_id: string;
      event_create_time: string;
      event_end_time: string;
    };
    const tail = `, "handler_id": ${JSON.stringify(body.handler_id)}, "event-create-time": ${JSON.stringify(body.event_create_time)}, "event-end-time": ${JSON.stringify(body.event_end_time)}, "Luna-Request-id": "0000000000,00000000-0000-0000-0000-000000000000"}`;
    for (const ev of body.events) app.publish(account, `{"event": ${JSON.stringify(ev)}${tail}`, false, false);
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
