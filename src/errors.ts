/**
 * The one table of LUNA errors (code, HTTP status, desc, when). Every error response of the
 * gateway is built from it; the README's error table and the OpenAPI document's list are generated
 * from it (scripts/gen-docs.ts), and test/unit/errors.test.ts fails when the README's table and
 * this one differ in either direction. Codes are LUNA PLATFORM 5 numbering; 12040, 29005, 29006,
 * 29010 and 29011 are ours.
 */
export const Errors = {
  Internal: { code: 1, status: 500, desc: 'Internal server error', when: 'anything unexpected; the detail never carries a stack' },
  BadJsonSchema: {
    code: 11027,
    status: 400,
    desc: 'Bad/incomplete input data',
    when: "publish body fails the schema: `Failed to validate input json. Path: 'handler_id', message: 'field required'`",
  },
  BadJson: { code: 12002, status: 400, desc: 'Bad/incomplete input data', when: 'publish body is not JSON' },
  BadQueryOrHeader: {
    code: 12012,
    status: 400,
    desc: 'Bad/incomplete input data',
    when: 'bad query parameter or header; the detail names it and what is allowed',
  },
  UpgradeRequired: {
    code: 12012,
    status: 426,
    desc: 'Bad/incomplete input data',
    when: 'plain GET on `/{api}/ws` without a WebSocket upgrade: `websocket upgrade required`',
  },
  NotFound: { code: 12013, status: 404, desc: 'Resource not found', when: 'unknown path' },
  BadContentType: { code: 12017, status: 400, desc: 'Bad content type', when: 'publish without `Content-Type: application/json`' },
  MethodNotAllowed: { code: 12021, status: 405, desc: 'Method not allowed', when: 'known path, wrong method (`Allow` lists the right ones)' },
  UnsupportedMediaType: { code: 12024, status: 415, desc: 'Unsupported media type', when: '`/docs/spec` or `/config` with nothing acceptable in `Accept`' },
  EmptyBody: { code: 12030, status: 400, desc: 'Request does not contain data', when: 'empty publish body' },
  BodyTooLarge: {
    code: 12040,
    status: 413,
    desc: 'Request entity too large',
    when: 'body over `SENDER_MAX_BODY_BYTES`; the body is read and discarded, then the connection closes',
  },
  Forbidden: {
    code: 29001,
    status: 403,
    desc: 'Forbidden',
    when:
      'no `Luna-Account-Id` (`/ws` or `/publish`); with `SENDER_AUTH=jwt`: a valid token without the permission (`view` to subscribe, ' +
      "`creation` to publish), an account header or `luna_account_id` that is not the token's account, or an unusable `filter` claim; in both modes an `Origin` not in `SENDER_ALLOWED_ORIGINS` (upgrade or preflight)",
  },
  Unavailable: {
    code: 29005,
    status: 503,
    desc: 'Service unavailable',
    when:
      'the bus could not take the publish (Redis down or slower than `SENDER_REDIS_TIMEOUT`); nothing of the batch is delivered. ' +
      'Also the body of a failing `/healthcheck`, with HTTP 502',
  },
  TooManyConnections: { code: 29006, status: 503, desc: 'Too many connections', when: 'an upgrade past `SENDER_MAX_CONNECTIONS` on this worker' },
  CannotResume: {
    code: 29010,
    status: 410,
    desc: 'Cannot resume',
    when:
      '`resume` names a position that can no longer be replayed in full; the detail says why: `epoch changed`, `position no longer ' +
      'retained` or `position ahead of the stream`. Never a partial replay: subscribe again without `resume`',
  },
  Unauthorized: {
    code: 29011,
    status: 401,
    desc: 'Unauthorized',
    when:
      '`SENDER_AUTH=jwt` and no token, or one that does not verify (signature, algorithm, key, `exp`/`nbf`/`iat`, `aud`/`iss`, ' +
      'claims), tokens in two carriers that differ, or one over 8 KiB; answered with `WWW-Authenticate: Bearer`. The detail never echoes the token',
    headers: { 'WWW-Authenticate': 'Bearer' },
  },
} as const satisfies Record<string, ErrorDef>;

export interface ErrorDef {
  readonly code: number;
  readonly status: number;
  readonly desc: string;
  /** When the gateway answers with it, for the README and the OpenAPI document (markdown). */
  readonly when: string;
  /** Headers every answer with this error carries (401: `WWW-Authenticate`, RFC 6750 3). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ErrorName = keyof typeof Errors;

/** HTTP reason phrases for the statuses we send (uWS wants the whole status line). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  302: 'Found',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

/** A LUNA error on its way to the client: thrown on cold paths, returned as a value on hot ones. */
export class LunaError extends Error {
  readonly status: number;
  constructor(
    readonly def: ErrorDef,
    readonly detail: string = def.desc,
    status?: number,
  ) {
    super(detail);
    this.status = status ?? def.status;
  }
  body(): string {
    return JSON.stringify({ error_code: this.def.code, desc: this.def.desc, detail: this.detail });
  }
}

/** A WebSocket close code as a client sees it; `when` is markdown for the README and the OpenAPI document. */
export interface CloseDef {
  readonly code: number;
  readonly reason: string;
  readonly when: string;
}

/**
 * WebSocket close codes the server sends. 1001 is RFC 6455; 4001, 4008 and 4010 are ours (4000-4999
 * is the application range).
 */
export const CloseCodes = {
  GoingAway: { code: 1001, reason: 'going away', when: 'the gateway shuts down (SIGTERM/SIGINT): sent to every socket after the listener stops accepting' },
  TokenExpired: {
    code: 4001,
    reason: 'token expired',
    when: "`SENDER_AUTH=jwt`: the token's `exp` plus `SENDER_AUTH_LEEWAY` passed (checked once a second); reconnect with a fresh token and `resume`",
  },
  HistoryLost: {
    code: 4010,
    reason: 'history lost',
    when:
      'a resumed socket was still replaying when the bus lost its history (the epoch changed: stream deleted or recreated); ' +
      'what it had not replayed is gone, so subscribe again without `resume`',
  },
  SlowConsumer: {
    code: 4008,
    reason: 'slow consumer',
    when: "the socket's unsent data passed `SENDER_MAX_BACKPRESSURE`; the close frame queues behind that data, other subscribers are not delayed",
  },
} as const satisfies Record<string, CloseDef>;

/**
 * Never sent (RFC 6455 forbids it in a close frame): what a client's close event reports when uWS
 * drops the TCP connection itself, without a close frame. Listed so the README's close-code table
 * covers every code a subscriber can see; a handler must not pass it to `end`.
 */
export const AbnormalClosure: CloseDef = {
  code: 1006,
  reason: '',
  when:
    "never sent as a frame: uWS itself dropped the TCP connection, so the client's close event reports 1006 (not clean, empty reason) " +
    'and anything still queued for it is lost. It happens when the socket stops answering (nothing, not even a pong, arrives for ' +
    '`SENDER_PING_INTERVAL` seconds, rounded to a multiple of 4 and at least 8: uWS pings it, and its idle timeout closes it when it ' +
    "stays silent as long again); when its backlog reaches uWS's own bound, set far above `SENDER_MAX_BACKPRESSURE` (a burst that large " +
    'between two slow-consumer sweeps, or a socket closed with 4008 that never reads its close frame); and for a client message ' +
    'over `SENDER_MAX_INBOUND_FRAME` bytes, also one still arriving in fragments: uWS 20.30 cuts the connection as soon as a frame ' +
    'header announces the excess, so what a socket may hold is bounded before the message completes',
};

/** Every close code a client can see, in code order: the README's close-code table. */
export const CLOSE_CODE_TABLE: readonly CloseDef[] = [...Object.values(CloseCodes), AbnormalClosure].sort((a, b) => a.code - b.code);
