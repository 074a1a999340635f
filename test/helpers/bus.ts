import assert from 'node:assert/strict';
import { type Bus, type BusEvent, BusUnavailableError, type DeliveredEvent } from '../../src/bus/index.js';

/** The `"label": "..."` of a test frame. */
export function labelOf(ev: BusEvent): string {
  return /"label": "([^"]*)"/.exec(Buffer.from(ev.frame).toString('utf8'))![1];
}

/** A collector whose events are copied (the contract lets the bus reuse `frame` after the call). */
export function collector(): { events: DeliveredEvent[]; onEvent: (ev: DeliveredEvent) => void; labels: () => string[] } {
  const events: DeliveredEvent[] = [];
  return {
    events,
    onEvent: (ev) => events.push({ id: ev.id, account: ev.account, frame: Buffer.from(ev.frame), facts: Buffer.from(ev.facts) }),
    labels: () => events.map(labelOf),
  };
}

/**
 * Publishes `${base}-${i}` until the bus takes one (it may be reconnecting) and returns that label;
 * every refusal on the way must be a BusUnavailableError.
 */
export async function publishWhenBack(bus: Bus, base: string, make: (label: string) => BusEvent): Promise<string> {
  for (let i = 0; ; i++) {
    const label = `${base}-${i}`;
    try {
      await bus.publish([make(label)], 1000);
      return label;
    } catch (err) {
      assert.ok(err instanceof BusUnavailableError, String(err));
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 50)); // paces the retries while the client reconnects; decides nothing
    }
  }
}
