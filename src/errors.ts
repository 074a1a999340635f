/**
 * The one table of LUNA errors (code, HTTP status, desc). Every error response of the gateway is
 * built from it; test/unit/errors.test.ts fails when a code is missing from the README's table.
 * Codes are LUNA PLATFORM 5 numbering; the ones marked (ours) extend it.
 */
export const Errors = {
  Internal: { code: 1, status: 500, desc: 'Internal server error' },
  BadJsonSchema: { code: 11027, status: 400, desc: 'Bad/incomplete input data' },
  BadJson: { code: 12002, status: 400, desc: 'Bad/incomplete input data' },
  BadQueryOrHeader: { code: 12012, status: 400, desc: 'Bad/incomplete input data' },
  UpgradeRequired: { code: 12012, status: 426, desc: 'Bad/incomplete input data' },
  NotFound: { code: 12013, status: 404, desc: 'Resource not found' },
  BadContentType: { code: 12017, status: 400, desc: 'Bad content type' },
  MethodNotAllowed: { code: 12021, status: 405, desc: 'Method not allowed' },
  UnsupportedMediaType: { code: 12024, status: 415, desc: 'Unsupported media type' },
  EmptyBody: { code: 12030, status: 400, desc: 'Request does not contain data' },
  BodyTooLarge: { code: 12040, status: 413, desc: 'Request entity too large' },
  Forbidden: { code: 29001, status: 403, desc: 'Forbidden' },
  Unavailable: { code: 29005, status: 503, desc: 'Service unavailable' },
  TooManyConnections: { code: 29006, status: 503, desc: 'Too many connections' },
} as const satisfies Record<string, ErrorDef>;

export interface ErrorDef {
  readonly code: number;
  readonly status: number;
  readonly desc: string;
}

export type ErrorName = keyof typeof Errors;

/** HTTP reason phrases for the statuses we send (uWS wants the whole status line). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  302: 'Found',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
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

/**
 * WebSocket close codes the server sends. 1001 is RFC 6455; 4008 is ours (4000-4999 is
 * the application range).
 */
export const CloseCodes = {
  GoingAway: { code: 1001, reason: 'going away' },
  SlowConsumer: { code: 4008, reason: 'slow consumer' },
} as const;
