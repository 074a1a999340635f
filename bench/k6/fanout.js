// End-to-end fan-out with k6 (https://k6.io): S subscribers with the filter mix, a publisher at
// R events/s in batches of B for T, latency from the "ts" first key of each event.
// Not run here (k6 is not installable on the benchmark machine); written against k6 v0.4x+ APIs:
// k6/ws (WebSocket), k6/http, k6/metrics, scenarios with executors.
//
//   k6 run -e BASE=127.0.0.1:5080 -e SUBS=2000 -e RATE=40 -e BATCH=10 -e DURATION=30s \
//          -e PAYLOAD=small bench/k6/fanout.js
//
// Latency needs a clock shared by the publishing and the receiving VU: both are in this k6 process,
// so Date.now() (ms) is used; k6 has no sub-millisecond clock. For sub-ms figures use the Node
// harness (node build/bench/fanout/run.js).

import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import ws from 'k6/ws';

const BASE = __ENV.BASE || '127.0.0.1:5080';
const ACCOUNT = __ENV.ACCOUNT || '6d4c1a0e-7b5f-4c2e-9a3d-2f1e0b9c8a71';
const SUBS = parseInt(__ENV.SUBS || '2000', 10);
const RATE = parseInt(__ENV.RATE || '40', 10);
const BATCH = parseInt(__ENV.BATCH || '10', 10);
const DURATION = __ENV.DURATION || '30s';
const PAYLOAD = __ENV.PAYLOAD || 'small';
// Subscribers connect during this time before publishing starts, and stay until publishing ended.
const RAMP_S = parseInt(__ENV.RAMP_S || '20', 10);
const DRAIN_S = parseInt(__ENV.DRAIN_S || '5', 10);

function durationSeconds(d) {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) return 30;
  const n = parseInt(m[1], 10);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}
const PUBLISH_S = durationSeconds(DURATION);

// The same mix as the Node harness: half gender=1, a quarter age 30..50, a quarter no filter.
const MIX = ['gender=1', 'gender=1', 'age__gte=30&age__lt=50', ''];
const gender = (i) => i % 2;
const age = (i) => 10 + ((i * 7) % 80);

// The full reference event (bench/fixtures/full-event.json), opened at init time.
const FULL = PAYLOAD === 'full' ? JSON.parse(open('../fixtures/full-event.json')) : null;

function makeEvent(i, ts) {
  if (FULL) {
    FULL.face_attributes.basic_attributes.age = age(i);
    FULL.face_attributes.basic_attributes.gender = gender(i);
    return `{"ts":${ts},${JSON.stringify(FULL).slice(1)}`;
  }
  return (
    `{"ts":${ts},"event_id":"0b7a8c3e-5d2f-4e61-9a1b-3c4d5e6f7a8b","source":"cam-12",` +
    `"face_attributes":{"basic_attributes":{"age":${age(i)},"gender":${gender(i)}}},"user_data":"north gate"}`
  );
}

const latency = new Trend('event_latency', true);
const received = new Counter('events_received');
const publishedEvents = new Counter('events_published');

export const options = {
  scenarios: {
    subscribers: {
      executor: 'per-vu-iterations',
      exec: 'subscribe',
      vus: SUBS,
      iterations: 1,
      maxDuration: `${RAMP_S + PUBLISH_S + DRAIN_S + 30}s`,
    },
    publisher: {
      executor: 'constant-arrival-rate',
      exec: 'publish',
      startTime: `${RAMP_S}s`,
      rate: Math.max(1, Math.round(RATE / BATCH)),
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
  thresholds: {
    event_latency: ['p(99)<100'],
    http_req_failed: ['rate<0.001'],
    'checks{check:publish 201}': ['rate>0.999'],
  },
};

export function subscribe() {
  const q = MIX[(__VU - 1) % MIX.length];
  const url = `ws://${BASE}/2/ws${q ? `?${q}` : ''}`;
  const res = ws.connect(url, { headers: { 'Luna-Account-Id': ACCOUNT } }, (socket) => {
    socket.on('message', (msg) => {
      // The frame starts `{"event": {"ts":<ms>,`: read the number without parsing the frame.
      const at = msg.indexOf('"ts":');
      if (at >= 0 && at < 48) {
        const end = msg.indexOf(',', at);
        latency.add(Date.now() - parseFloat(msg.substring(at + 5, end)));
      }
      received.add(1);
    });
    // Hold the subscription until the publisher has finished and the last frames have arrived.
    const remainingMs = (RAMP_S + PUBLISH_S + DRAIN_S) * 1000 - (Date.now() - startedAt());
    socket.setTimeout(() => socket.close(), Math.max(1000, remainingMs));
  });
  check(res, { 'ws 101': (r) => r && r.status === 101 });
}

// Start of the subscribers scenario (Unix ms), the same for every VU.
function startedAt() {
  return exec.scenario.startTime;
}

let nextIndex = 0;
export function publish() {
  // Indices unique per VU iteration: VU id in the high part.
  const base = exec.vu.idInTest * 1e7 + nextIndex;
  nextIndex += BATCH;
  const ts = Date.now();
  const events = [];
  for (let k = 0; k < BATCH; k++) events.push(makeEvent(base + k, ts));
  const body =
    `{"events":[${events.join(',')}],"handler_id":"557d54ec-29ad-4f3c-93b4-c9092ef12515",` +
    `"event_create_time":"2019-08-24T14:15:22Z","event_end_time":"2019-08-24T14:15:22Z"}`;
  const res = http.post(`http://${BASE}/2/publish`, body, {
    headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT },
    tags: { name: 'publish' },
  });
  if (check(res, { 'publish 201': (r) => r.status === 201 })) publishedEvents.add(BATCH);
}

// Expected deliveries: each published event reaches the subscribers whose filter it matches.
// With the mix above and attributes independent of the subscriber, the expectation is
// published * SUBS * (1/2 * P(gender=1) + 1/4 * P(30<=age<50) + 1/4) = published * SUBS * 0.5625.
export function handleSummary(data) {
  const pub = data.metrics.events_published ? data.metrics.events_published.values.count : 0;
  const got = data.metrics.events_received ? data.metrics.events_received.values.count : 0;
  const expected = Math.round(pub * SUBS * 0.5625);
  const lat = data.metrics.event_latency ? data.metrics.event_latency.values : {};
  const lines = [
    `published events:    ${pub}`,
    `expected deliveries: ~${expected} (statistical: the mix's match rates are exact only per 80 events)`,
    `received deliveries: ${got} (${expected ? ((got / expected) * 100).toFixed(2) : '-'}%)`,
    `latency ms: p50 ${lat.med} p99 ${lat['p(99)']} max ${lat.max}`,
  ];
  return { stdout: `${lines.join('\n')}\n` };
}
