/**
 * The soak load: small events (~300 B) with random gender and age, and the subscriber filter mix.
 * Each event starts with `{"ts":<monotonic ms>,` so subscribers read the publish time from the raw
 * frame (`readTs` in bench/lib/ws-raw.ts) without decoding it.
 */
export const ACCOUNT = '3f0c9a52-1d7e-4b8a-9c61-5e2d7f4a8b13';
export const HANDLER_ID = '7a1e5c2d-9b3f-4e8a-a6d1-0c4b2e9f7d35';

/** Milliseconds on CLOCK_MONOTONIC, shared by every process of the machine. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const rnd = (n: number) => Math.floor(Math.random() * n);

/**
 * Subscription query strings. The mix (½ `gender=1`, ¼ `age__gte=30&age__lt=50`,
 * ¼ no filter), except that 2 in 5 of the age subscriptions get random bounds: churn then keeps
 * creating and dropping distinct compiled filters, so the registry's add/remove paths are soaked
 * too (a leak there is exactly what a soak must show), not only the socket paths.
 */
export function randomQuery(): string {
  const r = Math.random();
  if (r < 0.5) return 'gender=1';
  if (r < 0.65) return 'age__gte=30&age__lt=50';
  if (r < 0.75) {
    const lo = rnd(80);
    return `age__gte=${lo}&age__lt=${lo + 5 + rnd(40)}`;
  }
  return '';
}

export function wsPath(query: string): string {
  return query === '' ? '/2/ws' : `/2/ws?${query}`;
}

const HEAD = '"event_id":"0b7a8c3e-5d2f-4e61-9a1b-3c4d5e6f7a8b","source":"cam-12","tags":["entrance","vip"],' + '"face_attributes":{"basic_attributes":{"age":';
const TAIL =
  ',"ethnicities":{"predominant_ethnicity":"asian"}}},"location":{"city":"Moscow","street":"arbat",' +
  '"geo_position":{"longitude":36.616,"latitude":55.752}}}';

/** One event (~300 B): gender 0/1 and age 10..89, uniformly at random. */
export function makeEvent(ts: string): string {
  return `{"ts":${ts},${HEAD}${10 + rnd(80)},"gender":${rnd(2)}${TAIL}`;
}

export function publishBody(events: string[]): string {
  return `{"events":[${events.join(',')}],"handler_id":"${HANDLER_ID}","event_create_time":"2019-08-24T14:15:22Z","event_end_time":"2019-08-24T14:15:22Z"}`;
}
