import { type ErrorDef, Errors } from '../errors.js';
import { API_PREFIXES } from '../version.js';
import { type Json, ref } from './schema.js';

/**
 * Response objects of the document. Every error response points at the Error schema and names its
 * codes from the one error table (src/errors.ts); a test checks that no other code appears.
 */

/** What a code means on the operation it is listed for (code and desc come from Errors), and the
 * HTTP status when the operation answers it with another than the table's (healthcheck: 502). */
export type ErrorCase = readonly [ErrorDef, string, number?];

const REQUEST_ID_HEADER = { 'Luna-Request-Id': { $ref: '#/components/headers/LunaRequestId' } };

export function errorResponses(cases: readonly ErrorCase[]): Json {
  const byStatus = new Map<number, string[]>();
  const headersOf = new Map<number, Json>();
  for (const [def, when, override] of cases) {
    const status = override ?? def.status;
    const lines = byStatus.get(status) ?? [];
    lines.push(`Error ${def.code} (${def.desc}): ${when}`);
    byStatus.set(status, lines);
    // Headers the error table says every answer with this error carries (401: WWW-Authenticate).
    const own = headersOf.get(status) ?? {};
    for (const [name, value] of Object.entries(def.headers ?? {}))
      own[name] = { description: `Always \`${value}\`.`, schema: { type: 'string', enum: [value] } };
    headersOf.set(status, own);
  }
  const out: Json = {};
  for (const [status, lines] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: lines.join('\n'),
      headers: { ...REQUEST_ID_HEADER, ...headersOf.get(status) },
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  return out;
}

/** A success response; every response carries Luna-Request-Id. */
export function ok(description: string, content?: Json, headers: Json = {}): Json {
  const r: Json = { description, headers: { ...REQUEST_ID_HEADER, ...headers } };
  if (content !== undefined) r.content = content;
  return r;
}

/** Cases every operation shares: the request id check (router) and the catch-all for bugs. */
export const COMMON_ERRORS: readonly ErrorCase[] = [
  [Errors.BadQueryOrHeader, "malformed 'Luna-Request-Id' header"],
  [Errors.Internal, Errors.Internal.when],
];

/** Cases of the `{api}` paths: a prefix other than 1 or 2 is an unknown path. */
export const API_PREFIX_ERRORS: readonly ErrorCase[] = [[Errors.NotFound, `'{api}' other than ${API_PREFIXES.join(' or ')}: unknown path`]];

export const ACCOUNT_ERRORS = (verb: string): readonly ErrorCase[] => [
  [Errors.Forbidden, `no 'Luna-Account-Id' (detail: Cannot ${verb} events without 'Luna-Account-Id' header set)`],
  [Errors.BadQueryOrHeader, "malformed 'Luna-Account-Id' (not a UUID)"],
];

/** SENDER_AUTH=jwt (SPEC 10): the token, then its account and permission (`verb`: view or creation). */
export const AUTH_ERRORS = (permission: string): readonly ErrorCase[] => [
  [
    Errors.Unauthorized,
    'with SENDER_AUTH=jwt: no token, or one that does not verify (signature, algorithm, key, exp/nbf/iat, aud/iss, account_id, permissions), ' +
      'different tokens in two carriers, or a token over 8 KiB',
  ],
  [
    Errors.Forbidden,
    `with SENDER_AUTH=jwt: the token does not grant '${permission}' on 'event', or 'Luna-Account-Id' / 'luna_account_id' names another account than the token's` +
      (permission === 'view' ? ", or the token's 'filter' claim cannot be used" : ''),
  ],
];

/**
 * The security of /ws and /publish: a token in either scheme, or none (`{}`) with SENDER_AUTH=none,
 * the default. Other operations need none.
 */
export const TOKEN_SECURITY = [{ bearer: [] }, { accessToken: [] }, {}];

/** Codes that belong to no single operation; listed in the document's description. */
export const GLOBAL_ERRORS: readonly ErrorCase[] = [
  [Errors.NotFound, Errors.NotFound.when],
  [Errors.MethodNotAllowed, Errors.MethodNotAllowed.when],
];
