/**
 * The filters the benchmarks use (gender, age__gte, age__lt, sources, user_data, emotions), parsed
 * from a query and interpreted on a parsed event: the straightforward code shared by the `ws`
 * baseline (one check per subscriber) and the filtered ceiling (one check per distinct filter).
 */
export interface Filter {
  gender?: number;
  age__gte?: number;
  age__lt?: number;
  sources?: string[];
  user_data?: string;
  emotions?: string[];
}

export type Ev = {
  source?: string;
  user_data?: string;
  face_attributes?: { basic_attributes?: { age?: number; gender?: number } };
  aggregate_estimations?: { face?: { attributes?: { emotions?: { predominant_emotion?: string } } } };
};

const EMOTIONS = ['', 'anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise'];

export function parseFilter(q: URLSearchParams): Filter {
  const f: Filter = {};
  if (q.has('gender')) f.gender = Number(q.get('gender'));
  if (q.has('age__gte')) f.age__gte = Number(q.get('age__gte'));
  if (q.has('age__lt')) f.age__lt = Number(q.get('age__lt'));
  if (q.has('sources')) f.sources = q.get('sources')!.split(',');
  if (q.has('user_data')) f.user_data = q.get('user_data')!;
  if (q.has('emotions'))
    f.emotions = q
      .get('emotions')!
      .split(',')
      .map((n) => EMOTIONS[Number(n)]);
  return f;
}

/** One text per distinct filter (keys sorted), for topic names. */
export function filterKey(f: Filter): string {
  return JSON.stringify(Object.fromEntries(Object.entries(f).sort(([a], [b]) => (a < b ? -1 : 1))));
}

export function matches(f: Filter, e: Ev): boolean {
  const basic = e.face_attributes?.basic_attributes;
  if (f.gender !== undefined && basic?.gender !== f.gender) return false;
  if (f.age__gte !== undefined && !(basic?.age !== undefined && basic.age >= f.age__gte)) return false;
  if (f.age__lt !== undefined && !(basic?.age !== undefined && basic.age < f.age__lt)) return false;
  if (f.sources !== undefined && !(e.source !== undefined && f.sources.includes(e.source))) return false;
  if (f.user_data !== undefined && !e.user_data?.includes(f.user_data)) return false;
  if (f.emotions !== undefined) {
    const em = e.aggregate_estimations?.face?.attributes?.emotions?.predominant_emotion;
    if (em === undefined || !f.emotions.includes(em)) return false;
  }
  return true;
}
