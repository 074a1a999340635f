import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { exposition } from '../../src/host-metrics.js';
import { PACKAGE_VERSION } from '../../src/version.js';
import { type Family, parseExposition, sample } from '../helpers/exposition.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, http, OTHER_ACCOUNT, publish, publishBody } from '../helpers/http.js';
import { rawWs } from '../helpers/raw-ws.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { type Client, connect } from '../helpers/ws-client.js';

/**
 * /metrics after known traffic: every counter has the exact value the traffic implies. "All
 * processed" is always decided by a sentinel event that the subscribers receive (stream order),
 * never by a sleep; a close is known to be handled when the client saw the server's answer or when
 * the open-connections gauge fell.
 */

async function scrape(gw: Gateway): Promise<Map<string, Family>> {
  const a = await http(`${gw.url}/metrics`);
  assert.equal(a.status, 200);
  return parseExposition(a.text);
}

/** A subscriber on gateway `gw`; `query` is its filter. */
function sub(gw: Gateway, query = '', account = ACCOUNT): Promise<Client> {
  return connect(`ws://127.0.0.1:${gw.port}/2/ws${query ? `?${query}` : ''}`, { 'Luna-Account-Id': account });
}

const person = (gender: number, age: number) => ({ face_attributes: { basic_attributes: { gender, age } } });

test('the exposition reader rejects what promtool would', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total 1\n';
  assert.equal(sample(parseExposition(ok), 'a_total'), 1);
  const bad: [string, RegExp][] = [
    ['# HELP a_total x\n# TYPE b_total counter\nb_total 1\n', /HELP names a_total but TYPE names b_total/],
    ['# HELP a x\n# TYPE a counter\na 1\n', /does not end in _total/],
    ['# HELP a_total x\n# TYPE a_total gauge\na_total 1\n', /ends in _total/],
    ['# HELP lag_ms x\n# TYPE lag_ms gauge\nlag_ms 1\n', /base units/],
    ['# TYPE a_total counter\na_total 1\n', /without a HELP/],
    ['a_total 1\n', /before any TYPE/],
    ['# HELP a_total x\n# TYPE a_total counter\nb_total 1\n', /does not belong/],
    ['# HELP a_total x\n# TYPE a_total counter\na_total{code=1000} 1\n', /bad label/],
    [ok + ok, /given twice/],
  ];
  for (const [text, why] of bad) assert.throws(() => parseExposition(text), why, text);
});

test('counters after known traffic on the in-process bus: events, predicates, topic publishes, closes by code', async () => {
  const gw = await startGateway({ SENDER_MAX_INBOUND_FRAME: '125' });
  try {
    // Account ACCOUNT: four distinct filters (the two gender=1 subscribers share one topic).
    const all = await sub(gw);
    const women = [await sub(gw, 'gender=1'), await sub(gw, 'gender=1')];
    const older = await sub(gw, 'age__gte=30');
    const other = await sub(gw, '', OTHER_ACCOUNT);
    const clients = [all, ...women, older, other];

    // Per event: 2 predicate calls (the empty filter costs none), one topic publish per match.
    const batch = [
      person(1, 40), // all, gender=1, age>=30: 3 topic publishes
      person(0, 20), // all: 1
      person(1, 20), // all, gender=1: 2
      { camera: 'x' }, // all (lacks the fields the others test): 1
    ];
    assert.equal((await publish(gw.url, publishBody(batch))).status, 201);
    assert.equal((await publish(gw.url, publishBody([{ other: true }]), { 'Luna-Account-Id': OTHER_ACCOUNT })).status, 201); // 1, no predicate
    // The sentinel matches every subscriber of ACCOUNT: 3 topic publishes, 2 predicate calls.
    const sentinel = { ...person(1, 40), sentinel: true };
    assert.equal((await publish(gw.url, publishBody([sentinel]))).status, 201);
    const expected = [5, 3, 3, 2, 1];
    await Promise.all(clients.map((c, i) => c.waitFor(expected[i])));
    for (const c of clients.slice(0, 4)) assert.equal(JSON.parse(c.messages.at(-1)!).event.sentinel, true);

    let m = await scrape(gw);
    assert.equal(sample(m, 'luna_sender_connections_total'), 5);
    assert.equal(sample(m, 'luna_sender_open_connections'), 5);
    assert.equal(sample(m, 'luna_sender_distinct_filters'), 4);
    assert.equal(sample(m, 'luna_sender_publish_requests_total'), 3);
    assert.equal(sample(m, 'luna_sender_published_events_total'), 6);
    assert.equal(sample(m, 'luna_sender_publish_latency_seconds_count'), 3);
    assert.equal(sample(m, 'luna_sender_events_in_total'), 6);
    assert.equal(sample(m, 'luna_sender_predicate_evaluations_total'), 10);
    assert.equal(sample(m, 'luna_sender_topic_publishes_total'), 3 + 1 + 2 + 1 + 1 + 3);
    assert.equal(sample(m, 'luna_sender_topic_publishes_no_subscriber_total'), 0);
    assert.equal(sample(m, 'luna_sender_malformed_stream_entries_total'), 0);
    assert.equal(sample(m, 'luna_sender_stream_gap_entries_total'), 0);
    assert.equal(sample(m, 'luna_sender_stream_lag_seconds'), 0);
    // Deliveries: one per frame a socket got (the two gender=1 sockets share each topic publish).
    const frames = clients.flatMap((c) => c.messages);
    assert.equal(sample(m, 'luna_sender_deliveries_total'), frames.length);
    assert.equal(
      sample(m, 'luna_sender_sent_bytes_total'),
      frames.reduce((n, f) => n + Buffer.byteLength(f), 0),
    );
    // Once per event that reached a socket (all six did), not per socket.
    assert.equal(sample(m, 'luna_sender_delivery_latency_seconds_count'), 6);
    assert.equal(sample(m, 'luna_sender_http_requests_total{route="/1/publish",status="201"}'), 3);
    assert.equal(sample(m, 'luna_sender_workers{state="live"}'), 1);
    assert.equal(sample(m, 'luna_sender_workers{state="stale"}'), 0);
    assert.equal(sample(m, `luna_sender_build_info{node="${process.version}",version="${PACKAGE_VERSION}"}`), 1);
    assert.ok(sample(m, `process_resident_memory_bytes{worker="${process.pid}"}`) > 0);
    assert.ok(m.has('nodejs_eventloop_lag_p99_seconds'));
    assert.ok(!m.has('luna_sender_process_pid'), 'no pid gauge: a host-wide figure of it means nothing');
    // A 404 is counted under one label, never the raw URL.
    assert.equal((await http(`${gw.url}/no/such/${'x'.repeat(20)}`)).status, 404);
    assert.equal(sample(await scrape(gw), 'luna_sender_http_requests_total{route="unmatched",status="404"}'), 1);
    // Refused upgrades, by error code: a bad parameter twice, no account once (the answer is written
    // before the refusal returns, so the counts are in place when the client sees it).
    for (const q of ['gender=9', 'age__gte=x']) await assert.rejects(sub(gw, q), /400/);
    await assert.rejects(connect(`ws://127.0.0.1:${gw.port}/2/ws`), /403/);
    m = await scrape(gw);
    assert.equal(sample(m, 'luna_sender_ws_upgrades_refused_total{error_code="12012"}'), 2);
    assert.equal(sample(m, 'luna_sender_ws_upgrades_refused_total{error_code="29001"}'), 1);

    // Closes: 1000 and 1005 (no code) from clients; 1006 for a frame past SENDER_MAX_INBOUND_FRAME
    // (uWS cuts the connection, see AbnormalClosure) and for a client that vanishes without a close frame. The client sees the server's close
    // frame only after the server's close handler ran.
    all.ws.close(1000);
    assert.equal((await all.closed).code, 1000);
    women[0].ws.close();
    assert.equal((await women[0].closed).code, 1005);
    older.ws.send('x'.repeat(126));
    assert.equal((await older.closed).code, 1006);
    const vanishing = await rawWs(gw.port, '/2/ws', { 'Luna-Account-Id': ACCOUNT });
    await waitFor(async () => sample(await scrape(gw), 'luna_sender_open_connections') === 3, 'the raw socket open');
    vanishing.socket.destroy();
    await waitFor(async () => sample(await scrape(gw), 'luna_sender_open_connections') === 2, 'the vanished socket closed');

    m = await scrape(gw);
    assert.equal(sample(m, 'luna_sender_connections_total'), 6);
    assert.equal(sample(m, 'luna_sender_ws_closes_total{code="1000"}'), 1);
    assert.equal(sample(m, 'luna_sender_ws_closes_total{code="1005"}'), 1);
    assert.equal(sample(m, 'luna_sender_ws_closes_total{code="1006"}'), 2);
    // The codes we send exist from the start, at 0 until used.
    assert.equal(sample(m, 'luna_sender_ws_closes_total{code="1001"}'), 0);
    assert.equal(sample(m, 'luna_sender_ws_closes_total{code="4008"}'), 0);
    assert.equal(sample(m, 'luna_sender_slow_consumer_closes_total'), 0);
    assert.equal(m.get('luna_sender_ws_closes_total')!.samples.size, 7);
    for (const c of [women[1], other]) c.close();
    await Promise.all([women[1], other].map((c) => c.closed));
  } finally {
    await gw.stop();
  }
});

test('shutdown closes every socket with 1001 and counts each', async () => {
  const gw = await startGateway();
  const clients = [await sub(gw), await sub(gw, 'gender=1')];
  await gw.stop();
  for (const c of clients) assert.equal((await c.closed).code, 1001);
  // The listener is gone: read the stopped worker's figures in-process.
  const { metrics, readings } = gw.worker.context;
  const m = parseExposition(await exposition(metrics.families(readings())));
  assert.equal(sample(m, 'luna_sender_ws_closes_total{code="1001"}'), 2);
  assert.equal(sample(m, 'luna_sender_open_connections'), 0);
  assert.equal(m.get('luna_sender_ws_closes_total')!.samples.size, 4, 'only the pre-set 1001, 4001, 4008 and 4010 series');
});

test('Redis bus: malformed stream entries and malformed LUNA messages are two counters', async () => {
  const redis = await startRedis();
  const admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  let gw: Gateway | undefined;
  try {
    await admin.connect();
    gw = await startGateway({ REDIS_URL: redis.url });
    // A filtered subscriber, so that the worker decodes the facts of ACCOUNT's entries.
    const c = await sub(gw, 'gender=1');
    const key = gw.worker.context.config.SENDER_STREAM_KEY;
    const frame = '{"event": {}, "handler_id": "h", "event-create-time": "c", "event-end-time": "e", "Luna-Request-id": "r"}';
    await admin.xadd(key, '*', 'x', 'y'); // no a, no f
    await admin.xadd(key, '*', 'a', 'not-a-uuid', 'f', frame);
    await admin.xadd(key, '*', 'a', ACCOUNT, 'f', frame, 'p', Buffer.from([0xc1])); // p is not msgpack
    const prefix = gw.worker.context.config.SENDER_LUNA_CHANNEL_PREFIX;
    assert.equal(await admin.publish(`${prefix}:${ACCOUNT}`, '{"handler_id": "h", "events": [{}], '), 1, 'the bridge holds the lease');
    // Sentinels, in the order of their inputs: the LUNA message after the malformed one, the
    // published event after the stream entries.
    await admin.publish(`${prefix}:${ACCOUNT}`, publishBody([{ ...person(1, 40), luna: true }]));
    await c.waitFor(1);
    assert.equal((await publish(gw.url, publishBody([person(1, 40)]))).status, 201);
    await c.waitFor(2);

    const m = await scrape(gw);
    assert.equal(sample(m, 'luna_sender_malformed_stream_entries_total'), 3);
    assert.equal(sample(m, 'luna_sender_malformed_luna_messages_total'), 1);
    // The entry with bad facts was read from the bus (and then skipped) like the two good ones.
    assert.equal(sample(m, 'luna_sender_events_in_total'), 3);
    assert.equal(sample(m, 'luna_sender_topic_publishes_total'), 2);
    assert.equal(sample(m, 'luna_sender_predicate_evaluations_total'), 2);
    assert.equal(sample(m, 'luna_sender_published_events_total'), 2);
    assert.equal(sample(m, 'luna_sender_publish_requests_total'), 1);
    assert.equal(sample(m, 'luna_sender_stream_gap_entries_total'), 0);
    assert.equal(sample(m, 'luna_sender_stream_resets_total'), 0, 'a fresh Redis is not a reset');
    assert.ok(sample(m, 'luna_sender_stream_lag_seconds') >= 0);
    c.close();
    await c.closed;
  } finally {
    await gw?.stop();
    admin.disconnect();
    await redis.stop();
  }
});
