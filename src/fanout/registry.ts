import { compileFilter, decodeFacts, type Facts, type Filter, filterTopic, type Predicate } from '../filters/index.js';
import { type Entry, positionedFrame } from '../history/index.js';
import type { Metrics } from '../metrics.js';

/**
 * The fan-out state of one worker: per account, the distinct filters its subscribers use. Each
 * distinct (account, filter) pair is one uWS topic; every subscriber with that filter is
 * subscribed to it, so an event costs one predicate call per distinct filter of its account and
 * one `publish` per matching topic, and uWS copies the same bytes to every socket of the topic.
 * Compiled predicates are shared across accounts by filter key. Subscribers with `positions=1`
 * (SPEC 9) have their own topic per filter, fed the positioned frame, built once per event.
 */
export interface Compiled {
  readonly predicate: Predicate;
  /** The empty filter: no decode, no call. */
  readonly matchesAll: boolean;
  refs: number;
}

interface TopicEntry {
  readonly key: string;
  readonly topic: string;
  /** Frames carry `"position"` (positions=1). */
  readonly positions: boolean;
  readonly compiled: Compiled;
  subscribers: number;
}

interface AccountEntry {
  /** Array for the hot loop, Map for subscribe/unsubscribe. */
  list: TopicEntry[];
  readonly byKey: Map<string, TopicEntry>;
  /** False when every filter of the account is empty: then the facts are never decoded. */
  needsFacts: boolean;
}

/**
 * What the registry needs from uWS: publishing bytes to a topic. Returns uWS's answer, which in
 * this version (uWebSockets v20 TopicTree::publish / publishBig) means "the topic had at least one
 * subscribed socket", i.e. the frame was queued for someone; it says nothing about whether the
 * bytes were written (a socket past maxBackpressure is skipped later, at drain). Checked with
 * uWebSockets.js 20.30: true for a topic with a subscriber (small and big frames), false for a
 * topic nobody subscribed to and after the last subscriber's `end`.
 */
export type PublishFn = (topic: string, frame: Uint8Array) => boolean;

/** The account's topic key of a filter: positions=1 subscribers have a topic of their own per filter. */
function topicKeyOf(filterKey: string, positions: boolean): string {
  return positions ? `${filterKey}\u0000positions` : filterKey;
}

export class Registry {
  private readonly accounts = new Map<string, AccountEntry>();
  /**
   * The clock for the delivery latency, read once per synchronous run of deliveries (a bus read's
   * batch) instead of per event: Date.now() costs ~50 ns here, as much as the rest of a delivery
   * to a few topics (bench: /tmp-style micro run in the commit message).
   */
  private clockMs = 0;
  private clockFresh = false;
  private readonly staleClock = () => {
    this.clockFresh = false;
  };
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    private readonly publish: PublishFn,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Upgrade time, before the 101 (cold path): the shared compiled predicate of this filter, or a
   * new one. Throws when the filter cannot be compiled, so that the handshake can answer with an
   * HTTP error instead of opening a socket. Nothing is cached here: a socket that never opens
   * leaves nothing behind; `subscribe` shares it.
   */
  prepare(filter: Filter | readonly Filter[], key: string): Compiled {
    const parts: readonly Filter[] = Array.isArray(filter) ? filter : [filter as Filter];
    return this.compiled.get(key) ?? { predicate: compileFilter(parts), matchesAll: parts.every((f) => Object.keys(f).length === 0), refs: 0 };
  }

  /** Open time (or when a resumed socket goes live): find or create the topic; returns it. */
  subscribe(account: string, key: string, prepared: Compiled, positions = false): string {
    let acct = this.accounts.get(account);
    if (acct === undefined) {
      acct = { list: [], byKey: new Map(), needsFacts: false };
      this.accounts.set(account, acct);
    }
    const topicKey = topicKeyOf(key, positions);
    let entry = acct.byKey.get(topicKey);
    if (entry === undefined) {
      let compiled = this.compiled.get(key);
      if (compiled === undefined) {
        compiled = prepared;
        this.compiled.set(key, compiled);
      }
      compiled.refs++;
      entry = { key, topic: filterTopic(account, topicKey), positions, compiled, subscribers: 0 };
      acct.byKey.set(topicKey, entry);
      acct.list = [...acct.byKey.values()];
      acct.needsFacts = acct.list.some((e) => !e.compiled.matchesAll);
    }
    entry.subscribers++;
    return entry.topic;
  }

  /** Frees the topic when its last subscriber leaves, and the account when its last topic goes. */
  unsubscribe(account: string, key: string, positions = false): void {
    const topicKey = topicKeyOf(key, positions);
    const acct = this.accounts.get(account);
    const entry = acct?.byKey.get(topicKey);
    if (acct === undefined || entry === undefined) return;
    if (--entry.subscribers > 0) return;
    acct.byKey.delete(topicKey);
    if (--entry.compiled.refs === 0) this.compiled.delete(key);
    if (acct.byKey.size === 0) {
      this.accounts.delete(account);
      return;
    }
    acct.list = [...acct.byKey.values()];
    acct.needsFacts = acct.list.some((e) => !e.compiled.matchesAll);
  }

  /**
   * The hot path: called once per event read from the bus. Never throws; malformed facts (a
   * malformed stream entry: the bus carried `p` but it is not valid msgpack facts) are counted and
   * the event skipped (its account's subscribers cannot be matched against it).
   *
   * A false from `publish` means uWS had no socket on a topic the registry holds subscribers for:
   * the two disagree, which open/close keep from happening (both update synchronously, and uWS
   * calls `close` from inside `end`). It is counted, not thrown, so that a breach shows in
   * /metrics instead of silently losing events.
   */
  deliver(ev: Entry, epoch: string): void {
    this.metrics.eventsIn++;
    const acct = this.accounts.get(ev.account);
    if (acct === undefined) return;
    let facts: Facts | undefined;
    if (acct.needsFacts) {
      try {
        facts = decodeFacts(ev.facts);
      } catch {
        this.metrics.malformedFacts++;
        return;
      }
    }
    const list = acct.list;
    let evaluated = 0;
    let published = 0;
    let unheard = 0;
    let sockets = 0;
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i];
      const c = entry.compiled;
      if (!c.matchesAll) {
        evaluated++;
        if (!c.predicate(facts!)) continue;
      }
      const frame = entry.positions ? positionedFrame(ev, epoch) : ev.frame;
      if (!this.publish(entry.topic, frame)) unheard++;
      published++;
      // uWS copies the frame to every socket of the topic: the registry's count of them.
      sockets += entry.subscribers;
      bytes += frame.length * entry.subscribers;
    }
    const m = this.metrics;
    m.predicateEvaluations += evaluated;
    m.topicPublishes += published;
    m.topicPublishesNoSubscriber += unheard;
    if (published === 0) return;
    m.deliveries += sockets;
    m.sentBytes += bytes;
    if (!this.clockFresh) {
      this.clockMs = Date.now();
      this.clockFresh = true;
      queueMicrotask(this.staleClock);
    }
    m.observeDelivery(ev.ms, this.clockMs);
  }

  stats(): { accounts: number; topics: number; subscriptions: number; compiled: number } {
    let topics = 0;
    let subscriptions = 0;
    for (const acct of this.accounts.values()) {
      topics += acct.byKey.size;
      for (const e of acct.byKey.values()) subscriptions += e.subscribers;
    }
    return { accounts: this.accounts.size, topics, subscriptions, compiled: this.compiled.size };
  }
}
