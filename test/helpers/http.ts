export const ACCOUNT = '8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';
export const OTHER_ACCOUNT = '904e635f-3a47-4832-b4d6-d2d72ba78451';
export const HANDLER = '557d54ec-29ad-4f3c-93b4-c9092ef12515';
export const REQUEST_ID = '1536751345,8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

export async function http(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

export function publishBody(events: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ events, handler_id: HANDLER, event_create_time: '2019-08-24T14:15:22Z', event_end_time: '2019-08-24T14:15:23Z', ...extra });
}

export function publish(base: string, body: string, headers: Record<string, string> = {}, api = 1): Promise<Answer> {
  return http(`${base}/${api}/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Luna-Account-Id': ACCOUNT, ...headers },
    body,
  });
}

/** Asserts the LUNA error shape; returns the body. */
export function errorBody(a: Answer): { error_code: number; desc: string; detail: string } {
  const b = a.json();
  if (Object.keys(b).join(',') !== 'error_code,desc,detail') throw new Error(`not an error body: ${a.text}`);
  return b;
}
