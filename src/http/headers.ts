import { Errors, LunaError } from '../errors.js';
import type { UWS } from '../uws.js';

/**
 * Header lines that may appear only once. Two `Luna-Account-Id` lines name two accounts; two
 * `Content-Length` or `Transfer-Encoding` lines make the body's framing ambiguous (the request
 * smuggling pattern: a proxy in front may frame it by the other line); two `Idempotency-Key` lines
 * name two publishes. uWS's `getHeader` returns
 * only the first line, `forEach` visits every line, so only a forEach pass can see a repeat.
 */
const SINGLE: Readonly<Record<string, string>> = {
  'luna-account-id': 'Luna-Account-Id',
  'luna-request-id': 'Luna-Request-Id',
  'idempotency-key': 'Idempotency-Key',
  'content-length': 'Content-Length',
  'transfer-encoding': 'Transfer-Encoding',
};

export interface RequestHeaders {
  /** Lower-case name -> value of its first line. */
  readonly values: Readonly<Record<string, string>>;
  /** The first header problem (a repeated single-line header, untrusted body framing): the first error of every request. */
  readonly problem: LunaError | undefined;
}

/**
 * Copies every header of a uWS request (HTTP routes and the /ws upgrade alike); must run
 * synchronously inside the handler. uWS hands names in lower case and values decoded as UTF-8.
 *
 * Known limit of uWS 20.30 (checked with raw requests): its parser trims a header value with
 * `c < 33` on a signed char, so bytes >= 0x80 at either end of a value are dropped with the
 * whitespace before JavaScript sees them: `Luna-Account-Id: <0xe9>` arrives as '' (the same as an
 * empty header, which SPEC counts as missing) and `<uuid><0xe9>` as the bare UUID. Only non-ASCII
 * bytes inside a value reach us (as U+FFFD when they are not UTF-8) and are refused by the UUID
 * and request-id patterns. Later uWS versions trim SP and HTAB only.
 */
export function readHeaders(req: UWS.HttpRequest): RequestHeaders {
  const values: Record<string, string> = Object.create(null);
  let repeated: string | undefined;
  req.forEach((k, v) => {
    if (!(k in values)) values[k] = v;
    else if (repeated === undefined && k in SINGLE) repeated = SINGLE[k];
  });
  const problem = repeated === undefined ? framingProblem(values) : new LunaError(Errors.BadQueryOrHeader, `Header '${repeated}' is given more than once`);
  return { values, problem };
}

/**
 * The body framing headers the gateway can trust. uWS 20.30 reads any Transfer-Encoding as chunked
 * (`xchunked`, `chunked, identity`, `gzip`: a proxy in front may frame those bodies otherwise, the
 * request smuggling pattern), so only exactly `chunked` (case-insensitive, RFC 9112 7) passes. uWS
 * itself already drops the connection, unanswered, on a Content-Length that is not decimal and on
 * both headers at once (hostile-http test); the checks here keep that true whatever uWS does.
 */
function framingProblem(values: Readonly<Record<string, string>>): LunaError | undefined {
  const te = values['transfer-encoding'];
  const cl = values['content-length'];
  if (te !== undefined && cl !== undefined) {
    return new LunaError(Errors.BadQueryOrHeader, "Headers 'Content-Length' and 'Transfer-Encoding' are both given");
  }
  if (te !== undefined && te.toLowerCase() !== 'chunked') {
    return new LunaError(Errors.BadQueryOrHeader, `Header 'Transfer-Encoding' must be 'chunked', the only transfer coding read; got '${te.slice(0, 100)}'`);
  }
  if (cl !== undefined && !/^[0-9]{1,15}$/.test(cl)) {
    return new LunaError(Errors.BadQueryOrHeader, "Header 'Content-Length' must be a decimal number of bytes");
  }
  return undefined;
}
