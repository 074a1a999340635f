import { randomUUID } from 'node:crypto';

/** SPEC section 3: `{unix seconds},{uuid4}`, lower-case hex. */
export const REQUEST_ID_RE = /^[0-9]{10},[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function newRequestId(): string {
  return `${Math.floor(Date.now() / 1000)},${randomUUID()}`;
}
