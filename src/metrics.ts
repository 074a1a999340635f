/**
 * Process-local counters and gauges in the Prometheus text format. Counters are plain number
 * fields so the hot path pays one increment; gauges are read from their owners at scrape time.
 */
export class Metrics {
  connections = 0;
  connectionsRefused = 0;
  eventsIn = 0;
  deliveries = 0;
  predicateEvaluations = 0;
  drops = 0;
  slowConsumerCloses = 0;
  publishRequests = 0;
  publishedEvents = 0;
  publishFailures = 0;
  malformedLunaMessages = 0;
  streamGaps = 0;
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

  render(gauges: Record<string, { help: string; value: number }>): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    };
    counter('luna_sender_connections_total', 'WebSocket connections opened.', this.connections);
    counter('luna_sender_connections_refused_total', 'Upgrades refused by the connection limit.', this.connectionsRefused);
    counter('luna_sender_events_in_total', 'Events read from the bus.', this.eventsIn);
    counter('luna_sender_predicate_evaluations_total', 'Compiled filter evaluations (one per distinct filter per event).', this.predicateEvaluations);
    counter('luna_sender_deliveries_total', 'Topic publishes of an event (one per matching distinct filter).', this.deliveries);
    counter('luna_sender_drops_total', 'Events not delivered to a subscriber because of its backpressure.', this.drops);
    counter('luna_sender_slow_consumer_closes_total', 'Sockets closed with 4008 slow consumer.', this.slowConsumerCloses);
    counter('luna_sender_publish_requests_total', 'Accepted POST /publish requests.', this.publishRequests);
    counter('luna_sender_published_events_total', 'Events appended to the bus by this process.', this.publishedEvents);
    counter('luna_sender_publish_failures_total', 'Publishes refused with 503 because the bus could not take them.', this.publishFailures);
    counter('luna_sender_malformed_messages_total', 'Malformed LUNA channel messages or stream entries skipped.', this.malformedLunaMessages);
    counter('luna_sender_stream_gaps_total', 'Stream entries lost to this worker because they were trimmed before it read them.', this.streamGaps);
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
    return lines.join('\n') + '\n';
  }
}
