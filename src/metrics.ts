import { CloseCodes } from './errors.js';
import { PACKAGE_VERSION } from './version.js';

/**
 * One metric family as prom-client's `getMetricsAsJSON()` gives it and `AggregatorRegistry.aggregate`
 * takes it: the form in which workers share their figures (src/host-metrics.ts) and in which the
 * answering worker sums them, series by series (histograms bucket by bucket).
 */
export interface FamilyValue {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}
export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** How the host figure is made from the workers' series with equal labels. */
  aggregator: 'sum' | 'max';
  values: FamilyValue[];
}

/** What the scrape reads from the worker's owners at collect time (src/worker.ts). */
export interface Readings {
  openConnections: number;
  subscriptions: number;
  distinctFilters: number;
  compiledPredicates: number;
  historyBytes: number;
  historyEvents: number;
  replayingSockets: number;
  lagSeconds: number;
  /** Stream entries read but held until SENDER_REDIS_MIN_REPLICAS replicas have them. */
  heldEntries: number;
  /** The bus's own monotonic counts (exported as counters). */
  gaps: number;
  malformed: number;
  resets: number;
}

/**
 * Close codes that get a label of their own: the standard range of RFC 6455 section 7.4 (1000-1015:
 * 1000/1005 from clients, 1006 when uWS cuts a socket off) and our own table. Any other code (a
 * client may send any of 3000-4999) is counted as `other`, so that clients cannot grow the number
 * of series without bound.
 */
const STANDARD_CLOSE_CODES = { first: 1000, last: 1015 } as const;
const OWN_CLOSE_CODES: ReadonlySet<number> = new Set(Object.values(CloseCodes).map((c) => c.code));

function closeLabel(code: number): string {
  return (code >= STANDARD_CLOSE_CODES.first && code <= STANDARD_CLOSE_CODES.last) || OWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}

/** A histogram kept as plain arrays: `observe` is a short linear scan and three additions. */
class Buckets {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
  values(name: string): FamilyValue[] {
    const out: FamilyValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((b, i) => {
      cumulative += this.counts[i];
      out.push({ metricName: `${name}_bucket`, labels: { le: b }, value: cumulative });
    });
    cumulative += this.counts[this.bounds.length];
    out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
    out.push({ metricName: `${name}_sum`, labels: {}, value: this.sum }, { metricName: `${name}_count`, labels: {}, value: this.count });
    return out;
  }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Process-local (per worker) figures. Counters are plain number fields so the hot path pays one
 * increment; gauges, and the counts the bus keeps itself, are read from their owners at scrape
 * time (Readings). `families` turns both into metric families; src/host-metrics.ts sums them over
 * the workers of the port. Every counter here moves: a figure nothing increments does not belong.
 */
export class Metrics {
  connections = 0;
  connectionsRefused = 0;
  /** Events the registry was handed (one per event read from the bus). */
  eventsIn = 0;
  /** One per event per matching distinct filter: `app.publish` calls, not frames to sockets. */
  topicPublishes = 0;
  /** Topic publishes for which uWS found no subscribed socket (`app.publish` returned false). */
  topicPublishesNoSubscriber = 0;
  /** Frames handed to uWS for a socket: per topic publish its subscriber count, plus replayed frames. */
  deliveries = 0;
  /** Bytes of those frames (frame length times sockets). */
  sentBytes = 0;
  predicateEvaluations = 0;
  slowConsumerCloses = 0;
  publishRequests = 0;
  publishedEvents = 0;
  publishFailures = 0;
  /** LUNA channel messages the bridge could not turn into events. */
  malformedLunaMessages = 0;
  /** LUNA channel messages a new lease holder forwarded again from its stand-by buffer (most are folded by their idempotency key). */
  lunaReplayedMessages = 0;
  /** Stream entries the bus decoded whose facts (`p`) the registry could not decode. */
  malformedFacts = 0;
  /** `resume=` upgrades answered 101, and refused with 410 (SPEC 9). */
  resumesAccepted = 0;
  resumesRefused = 0;
  /** Frames sent by replay (resumed sockets catching up), not through topics. */
  replayedFrames = 0;
  /** Close-code label -> sockets closed with it. The codes we send start at 0 so their series exist. */
  private readonly wsCloses = new Map<string, number>([...OWN_CLOSE_CODES].map((c) => [String(c), 0]));
  /** `route\0status` -> answers. Routes are the route table's paths (or `unmatched`): bounded. */
  private readonly httpRequests = new Map<string, number>();
  /** Refused upgrades by LUNA error code. */
  private readonly upgradeRefusals = new Map<string, number>();
  readonly publishLatency = new Buckets(LATENCY_BUCKETS);
  readonly deliveryLatency = new Buckets(LATENCY_BUCKETS);

  observePublish(seconds: number): void {
    this.publishLatency.observe(seconds);
  }

  /**
   * One event handed to uWS for at least one socket, published `ms` (its id's time: the Redis
   * server's clock, or the memory bus's) ago. Once per event, not per socket; a clock step back
   * counts as 0.
   */
  observeDelivery(publishedMs: number, nowMs: number): void {
    this.deliveryLatency.observe(nowMs > publishedMs ? (nowMs - publishedMs) / 1000 : 0);
  }

  /** One socket closed, by whoever, with this code (uWS's close handler argument). */
  countClose(code: number): void {
    const label = closeLabel(code);
    this.wsCloses.set(label, (this.wsCloses.get(label) ?? 0) + 1);
  }

  /** One HTTP answer (or abort: 499) on `route`. */
  /** One `/ws` upgrade answered with an error instead of the 101, by its LUNA error code (a bounded set: errors.ts). */
  countUpgradeRefused(errorCode: number): void {
    const key = String(errorCode);
    this.upgradeRefusals.set(key, (this.upgradeRefusals.get(key) ?? 0) + 1);
  }

  countHttp(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    this.httpRequests.set(key, (this.httpRequests.get(key) ?? 0) + 1);
  }

  /** This worker's families, in the order of METRICS. */
  families(r: Readings): Family[] {
    return METRICS.map((d) => ({ name: d.name, help: d.help, type: d.type, aggregator: d.aggregator, values: d.values(this, r) }));
  }

  /** @internal for METRICS */
  closeValues(): FamilyValue[] {
    return [...this.wsCloses].map(([code, value]) => ({ labels: { code }, value }));
  }

  /** @internal for METRICS */
  upgradeRefusalValues(): FamilyValue[] {
    return [...this.upgradeRefusals].map(([error_code, value]) => ({ labels: { error_code }, value }));
  }

  /** @internal for METRICS */
  httpValues(): FamilyValue[] {
    return [...this.httpRequests].map(([key, value]) => {
      const [route, status] = key.split('\u0000');
      return { labels: { route, status }, value };
    });
  }
}

interface MetricDef {
  readonly name: string;
  readonly type: Family['type'];
  readonly help: string;
  readonly labels?: readonly string[];
  readonly aggregator: Family['aggregator'];
  readonly values: (m: Metrics, r: Readings) => FamilyValue[];
}

const one = (value: number): FamilyValue[] => [{ labels: {}, value }];
const counter = (name: string, help: string, read: (m: Metrics, r: Readings) => number): MetricDef => ({
  name,
  type: 'counter',
  help,
  aggregator: 'sum',
  values: (m, r) => one(read(m, r)),
});
const gauge = (name: string, help: string, read: (r: Readings) => number, aggregator: Family['aggregator'] = 'sum'): MetricDef => ({
  name,
  type: 'gauge',
  help,
  aggregator,
  values: (_m, r) => one(read(r)),
});

/**
 * The gateway's own metrics: one table, read by `Metrics.families`, by the host aggregation (the
 * aggregator says how workers combine) and by the README's metric table (src/doc-tables.ts).
 */
export const METRICS: readonly MetricDef[] = [
  {
    name: 'luna_sender_build_info',
    type: 'gauge',
    help: 'Always 1; the labels name the version and the Node.js release (during a rolling restart both versions show).',
    labels: ['version', 'node'],
    aggregator: 'max',
    values: () => [{ labels: { version: PACKAGE_VERSION, node: process.version }, value: 1 }],
  },
  counter('luna_sender_connections_total', 'WebSocket connections opened.', (m) => m.connections),
  counter('luna_sender_connections_refused_total', 'Upgrades refused by the connection limit.', (m) => m.connectionsRefused),
  counter(
    'luna_sender_events_in_total',
    'Events read from the bus (each worker reads every event: the host total is workers times events).',
    (m) => m.eventsIn,
  ),
  counter(
    'luna_sender_deliveries_total',
    'Frames handed to uWS for a socket: for each topic publish the sockets subscribed to the topic, plus replayed frames.',
    (m) => m.deliveries,
  ),
  counter('luna_sender_sent_bytes_total', 'Bytes of the frames counted by luna_sender_deliveries_total (WebSocket framing not included).', (m) => m.sentBytes),
  counter(
    'luna_sender_luna_takeover_replayed_messages_total',
    'LUNA channel messages a new bridge lease holder forwarded again from its stand-by buffer (already appended ones are folded by their idempotency key).',
    (m) => m.lunaReplayedMessages,
  ),
  counter('luna_sender_resumes_total', 'Subscriptions with resume= that were accepted (101).', (m) => m.resumesAccepted),
  counter('luna_sender_resumes_refused_total', 'Subscriptions with resume= refused with 410 (29010).', (m) => m.resumesRefused),
  counter('luna_sender_replayed_frames_total', 'Frames sent to resumed sockets while they caught up (not through topics).', (m) => m.replayedFrames),
  counter(
    'luna_sender_predicate_evaluations_total',
    'Compiled filter evaluations (one per non-empty distinct filter of the account per event).',
    (m) => m.predicateEvaluations,
  ),
  counter(
    'luna_sender_topic_publishes_total',
    'Topic publishes: one per event per matching distinct filter of its account; uWS copies each to every socket of the topic (see luna_sender_deliveries_total).',
    (m) => m.topicPublishes,
  ),
  counter(
    'luna_sender_topic_publishes_no_subscriber_total',
    'Topic publishes that reached no socket (uWS publish returned false). The registry publishes only to topics it holds subscribers for, so anything but 0 is a bug.',
    (m) => m.topicPublishesNoSubscriber,
  ),
  counter(
    'luna_sender_slow_consumer_closes_total',
    'Sockets the slow-consumer policy closed with 4008 (a client sending 4008 itself is not counted here).',
    (m) => m.slowConsumerCloses,
  ),
  counter('luna_sender_publish_requests_total', 'Accepted POST /publish requests.', (m) => m.publishRequests),
  counter('luna_sender_published_events_total', 'Events appended to the bus (by POST /publish and the LUNA bridge).', (m) => m.publishedEvents),
  counter('luna_sender_publish_failures_total', 'Publishes refused with 503 because the bus could not take them.', (m) => m.publishFailures),
  counter(
    'luna_sender_malformed_luna_messages_total',
    'LUNA channel messages skipped because they were malformed (counted by the bridge that holds the lease).',
    (m) => m.malformedLunaMessages,
  ),
  counter(
    'luna_sender_malformed_stream_entries_total',
    'Stream entries skipped because they were malformed (undecodable entries, and entries whose facts could not be decoded for a filtered subscriber).',
    (m, r) => r.malformed + m.malformedFacts,
  ),
  counter('luna_sender_stream_gap_entries_total', 'Stream entries trimmed away before a worker read them.', (_m, r) => r.gaps),
  counter(
    'luna_sender_stream_resets_total',
    'Times a worker saw the stream epoch change (the stream was deleted or recreated, or Redis came back empty) and started over on the new history.',
    (_m, r) => r.resets,
  ),
  {
    name: 'luna_sender_ws_closes_total',
    type: 'counter',
    help: 'WebSocket closes by close code (1005: no code given; 1006: cut off without a close frame; other: codes outside 1000-1015 and ours).',
    labels: ['code'],
    aggregator: 'sum',
    values: (m) => m.closeValues(),
  },
  {
    name: 'luna_sender_http_requests_total',
    type: 'counter',
    help: 'HTTP answers by route (the route table path, or unmatched) and status (499: the client went away first); WebSocket upgrades are not counted here.',
    labels: ['route', 'status'],
    aggregator: 'sum',
    values: (m) => m.httpValues(),
  },
  {
    name: 'luna_sender_ws_upgrades_refused_total',
    type: 'counter',
    help: 'WebSocket upgrades answered with an error instead of the 101, by LUNA error code (12012 bad parameter, 29011 no or bad token, 29001 forbidden: permission, account or origin, 29006 a connection limit, 29010 resume refused, 29005 bus unavailable).',
    labels: ['error_code'],
    aggregator: 'sum',
    values: (m) => m.upgradeRefusalValues(),
  },
  gauge('luna_sender_open_connections', 'WebSocket connections open now.', (r) => r.openConnections),
  gauge('luna_sender_subscriptions', 'Subscriptions (one per open socket).', (r) => r.subscriptions),
  gauge('luna_sender_distinct_filters', 'Distinct (account, filter) topics, summed over workers.', (r) => r.distinctFilters),
  gauge('luna_sender_compiled_predicates', 'Compiled predicates, summed over workers.', (r) => r.compiledPredicates),
  gauge('luna_sender_resume_history_bytes', 'Bytes of recent events held for resuming subscribers.', (r) => r.historyBytes),
  gauge('luna_sender_resume_history_events', 'Recent events held for resuming subscribers, summed over workers.', (r) => r.historyEvents),
  gauge('luna_sender_replaying_sockets', 'Resumed sockets still catching up.', (r) => r.replayingSockets),
  gauge(
    'luna_sender_stream_held_entries',
    'Stream entries read but not delivered until SENDER_REDIS_MIN_REPLICAS replicas hold them, summed over workers.',
    (r) => r.heldEntries,
  ),
  gauge(
    'luna_sender_stream_lag_seconds',
    'Age of the newest stream entry at the last read, the largest over the workers (0 on the in-process bus).',
    (r) => r.lagSeconds,
    'max',
  ),
  {
    name: 'luna_sender_publish_latency_seconds',
    type: 'histogram',
    help: "Time from a publish request's body to the bus acknowledgement.",
    aggregator: 'sum',
    values: (m) => m.publishLatency.values('luna_sender_publish_latency_seconds'),
  },
  {
    name: 'luna_sender_delivery_latency_seconds',
    type: 'histogram',
    help: 'Time from the publish being accepted (the stream entry id time) to the frame handed to uWS; once per event that reached a socket, not per socket.',
    aggregator: 'sum',
    values: (m) => m.deliveryLatency.values('luna_sender_delivery_latency_seconds'),
  },
];
