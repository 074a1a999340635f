import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The load: deterministic events (attributes are a function of the event index, so the expected
 * deliveries of every filter are known in advance) and the subscriber filter mix.
 * Every event starts with `{"ts":<monotonic ms, 3 decimals>,` so clients can read the publish
 * time from the raw frame.
 */
export const ACCOUNT = '6d4c1a0e-7b5f-4c2e-9a3d-2f1e0b9c8a71';
export const HANDLER_ID = '557d54ec-29ad-4f3c-93b4-c9092ef12515';
export type PayloadKind = 'small' | 'full';

/** gender alternates; age walks 10..89 in steps of 7 (mod 80), independent of gender. */
export function gender(i: number): number {
  return i % 2;
}
export function age(i: number): number {
  return 10 + ((i * 7) % 80);
}

export interface FilterClass {
  readonly name: string;
  readonly query: string;
  /** Share of the subscribers that use it. */
  readonly share: number;
  matches(i: number): boolean;
}

/** Half `gender=1`, a quarter `age__gte=30&age__lt=50`, a quarter no filter (the mix). */
export const FILTER_MIX: readonly FilterClass[] = [
  { name: 'gender=1', query: 'gender=1', share: 0.5, matches: (i) => gender(i) === 1 },
  { name: 'age 30..50', query: 'age__gte=30&age__lt=50', share: 0.25, matches: (i) => age(i) >= 30 && age(i) < 50 },
  { name: 'none', query: '', share: 0.25, matches: () => true },
];

/** Subscriber j's class, interleaved so every client process gets the same mix. */
export function classOf(j: number, classes: readonly FilterClass[] = FILTER_MIX): number {
  // Quarters: 0,1 -> class 0 (half), 2 -> class 1, 3 -> class 2 for the default mix.
  const slots: number[] = [];
  for (let c = 0; c < classes.length; c++) for (let k = 0; k < Math.round(classes[c].share * 4); k++) slots.push(c);
  return slots.length === 0 ? 0 : slots[j % slots.length];
}

/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), which every process of the machine shares.
 * Measured reason: `performance.timeOrigin + performance.now()` differed between two processes
 * started a second apart by up to 0.6 ms (timeOrigin is taken from the wall clock at start-up),
 * which is the size of the latencies we want to see.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const SENTINEL_AGE = 987654321;
const SENTINEL_GENDER = 123456789;

/**
 * Builds event JSON text from a template split around the varying fields: one string
 * concatenation per event, so the publisher stays cheap.
 */
export class EventMaker {
  private readonly parts: string[];

  constructor(readonly kind: PayloadKind) {
    let obj: Record<string, unknown>;
    if (kind === 'full') {
      const path = fileURLToPath(new URL('../../../bench/fixtures/full-event.json', import.meta.url));
      obj = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      const fa = obj.face_attributes as { basic_attributes: { age: number; gender: number } };
      fa.basic_attributes.age = SENTINEL_AGE;
      fa.basic_attributes.gender = SENTINEL_GENDER;
    } else {
      obj = {
        event_id: '0b7a8c3e-5d2f-4e61-9a1b-3c4d5e6f7a8b',
        source: 'cam-12',
        stream_id: '8950722f-3fd4-4223-b48f-03f95f0e8dfb',
        tags: ['entrance', 'vip'],
        user_data: 'north gate',
        face_attributes: { basic_attributes: { age: SENTINEL_AGE, gender: SENTINEL_GENDER, ethnicities: { predominant_ethnicity: 'asian' } } },
        location: { city: 'Moscow', area: 'CAO', street: 'arbat', geo_position: { longitude: 36.616, latitude: 55.752 } },
        url: '/0/events/0b7a8c3e-5d2f-4e61-9a1b-3c4d5e6f7a8b',
      };
    }
    const text = JSON.stringify(obj);
    const a = text.split(String(SENTINEL_AGE));
    const b = a[1].split(String(SENTINEL_GENDER));
    if (a.length !== 2 || b.length !== 2) throw new Error('event template: sentinel not found once');
    // `{"ts":…,` is spliced in front of the object's first key.
    this.parts = [a[0].slice(1), b[0], b[1]];
  }

  make(i: number, ts: number): string {
    return `{"ts":${ts.toFixed(3)},${this.parts[0]}${age(i)}${this.parts[1]}${gender(i)}${this.parts[2]}`;
  }

  /** Size of one event, bytes (approximately: ts digits vary little). */
  size(): number {
    return Buffer.byteLength(this.make(0, nowMs()));
  }
}

export function publishBody(events: string[]): string {
  return `{"events":[${events.join(',')}],"handler_id":"${HANDLER_ID}","event_create_time":"2019-08-24T14:15:22Z","event_end_time":"2019-08-24T14:15:22Z"}`;
}
