import type { BusStats } from './bus/bus.js';
import { CloseCodes } from './errors.js';

/** What the scrape reads from the worker's owners: gauges, and the bus's own (monotonic) counts. */
export interface Scrape {
  readonly gauges: Record<string, { help: string; value: number }>;
  readonly bus: Pick<BusStats, 'gaps' | 'malformed' | 'resets'>;
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

/**
 * Process-local (per worker) counters and gauges in the Prometheus text format. Counters are plain
 * number fields so the hot path pays one increment; gauges, and the counts the bus keeps itself,
 * are read from their owners at scrape time. Every counter here moves: a figure nothing increments
 * does not belong in this file.
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
  /** Publish latency histogram (seconds) buckets, cumulative at render time. */
  private readonly buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  private readonly bucketCounts = new Array<number>(this.buckets.length + 1).fill(0);
  private latencySum = 0;
  private latencyCount = 0;

  observePublish(seconds: number): void {
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]) i++;
    this.bucketCounts[i]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  /** One socket closed, by whoever, with this code (uWS's close handler argument). */
  countClose(code: number): void {
    const label = closeLabel(code);
    this.wsCloses.set(label, (this.wsCloses.get(label) ?? 0) + 1);
  }

  render({ gauges, bus }: Scrape): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    };
    counter('luna_sender_connections_total', 'WebSocket connections opened.', this.connections);
    counter('luna_sender_connections_refused_total', 'Upgrades refused by the connection limit.', this.connectionsRefused);
    counter('luna_sender_events_in_total', 'Events read from the bus.', this.eventsIn);
    counter(
      'luna_sender_luna_takeover_replayed_messages_total',
      'LUNA channel messages a new bridge lease holder forwarded again from its stand-by buffer (already appended ones are folded by their idempotency key).',
      this.lunaReplayedMessages,
    );
    counter('luna_sender_resumes_total', 'Subscriptions with resume= that were accepted (101).', this.resumesAccepted);
    counter('luna_sender_resumes_refused_total', 'Subscriptions with resume= refused with 410 (29010).', this.resumesRefused);
    counter('luna_sender_replayed_frames_total', 'Frames sent to resumed sockets while they caught up (not through topics).', this.replayedFrames);
    counter(
      'luna_sender_predicate_evaluations_total',
      'Compiled filter evaluations (one per non-empty distinct filter of the account per event).',
      this.predicateEvaluations,
    );
    counter(
      'luna_sender_topic_publishes_total',
      'Topic publishes: one per event per matching distinct filter of its account; uWS copies each to every socket of the topic, so this is not a count of frames sent.',
      this.topicPublishes,
    );
    counter(
      'luna_sender_topic_publishes_no_subscriber_total',
      'Topic publishes that reached no socket (uWS publish returned false: no socket subscribed to the topic). The registry publishes only to topics it holds subscribers for, so anything but 0 is a bug.',
      this.topicPublishesNoSubscriber,
    );
    counter(
      'luna_sender_slow_consumer_closes_total',
      'Sockets the slow-consumer policy closed with 4008 (a client sending 4008 itself is not counted here).',
      this.slowConsumerCloses,
    );
    counter('luna_sender_publish_requests_total', 'Accepted POST /publish requests.', this.publishRequests);
    counter('luna_sender_published_events_total', 'Events appended to the bus by this process.', this.publishedEvents);
    counter('luna_sender_publish_failures_total', 'Publishes refused with 503 because the bus could not take them.', this.publishFailures);
    counter(
      'luna_sender_malformed_luna_messages_total',
      'LUNA channel messages skipped because they were malformed (counted by the bridge that holds the lease).',
      this.malformedLunaMessages,
    );
    counter(
      'luna_sender_malformed_stream_entries_total',
      'Stream entries skipped because they were malformed (undecodable entries, and entries whose facts could not be decoded for a filtered subscriber).',
      bus.malformed + this.malformedFacts,
    );
    counter('luna_sender_stream_gap_entries_total', 'Stream entries trimmed away before this worker read them.', bus.gaps);
    counter(
      'luna_sender_stream_resets_total',
      'Times this worker saw the stream epoch change (the stream was deleted or recreated, or Redis came back empty) and started over on the new history.',
      bus.resets,
    );
    const closes = 'luna_sender_ws_closes_total';
    lines.push(
      `# HELP ${closes} WebSocket closes by close code (1005: no code given; 1006: cut off without a close frame; other: codes outside 1000-1015 and ours).`,
      `# TYPE ${closes} counter`,
    );
    for (const [code, n] of this.wsCloses) lines.push(`${closes}{code="${code}"} ${n}`);
    for (const [name, g] of Object.entries(gauges)) {
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    }
    const h = 'luna_sender_publish_latency_seconds';
    lines.push(`# HELP ${h} Time from a publish request's body to the bus acknowledgement.`, `# TYPE ${h} histogram`);
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += this.bucketCounts[i];
      lines.push(`${h}_bucket{le="${b}"} ${cumulative}`);
    });
    cumulative += this.bucketCounts[this.buckets.length];
    lines.push(`${h}_bucket{le="+Inf"} ${cumulative}`, `${h}_sum ${this.latencySum}`, `${h}_count ${this.latencyCount}`);
    return `${lines.join('\n')}\n`;
  }
}
