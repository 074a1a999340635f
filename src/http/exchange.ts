import { type LunaError, statusLine } from '../errors.js';
import { checkRequestId } from '../events/index.js';
import type { Logger } from '../log.js';
import type { UWS } from '../uws.js';
import { readHeaders } from './headers.js';
import { corsHeaders, type OriginPolicy } from './origins.js';

/**
 * One HTTP request/response pair. Everything needed from uWS's HttpRequest is copied in the
 * constructor, because that object is only valid synchronously inside the route handler; the
 * abort handler is registered there too, before any await. Every answer carries Luna-Request-Id,
 * is written inside `cork`, and is logged exactly once with method, path, status and duration.
 */
export class Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The request's own id when valid, otherwise a generated one (also when malformed). */
  readonly requestId: string;
  /** A repeated single-line header or untrusted body framing, else a malformed Luna-Request-Id. */
  private readonly headerProblem: LunaError | undefined;
  /** The headerProblem is one of framing (readHeaders): where this request ends is in doubt. */
  readonly framingInDoubt: boolean;
  readonly started = process.hrtime.bigint();
  aborted = false;
  done = false;
  account: string | undefined;
  /** The request announced a body that nobody has read: answering then must close the connection,
   * or the unread bytes would be parsed as the next request. readBody clears it. */
  bodyPending: boolean;
  /** readBody answered before reading the body (declared too large) and discards it now: an answer
   * then says `Connection: close` but leaves closing to readBody, so the client's body writes do not
   * meet a reset that would destroy the answer unread. */
  deferClose = false;
  /** The answer was written but its response left open (see send); closeConnection ends it. */
  private openAnswer = false;
  /** CORS headers of every answer (an allowed `Origin`), computed once. */
  private readonly cors: Readonly<Record<string, string>> | undefined;
  /** The route table path this request matched (router.ts), the label of its count: never the raw URL. */
  route = 'unmatched';

  constructor(
    readonly res: UWS.HttpResponse,
    req: UWS.HttpRequest,
    private readonly log: Logger,
    /** While it drains (shutdown), every answer closes its connection. */
    private readonly drain?: { readonly draining: boolean },
    origins?: OriginPolicy,
    /** Called once per answer (or abort) with the route and status: the request counter. */
    private readonly count?: (route: string, status: number) => void,
  ) {
    this.method = req.getCaseSensitiveMethod();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    const { values: headers, problem } = readHeaders(req);
    this.headers = headers;
    const length = headers['content-length'];
    // With a repeated header the body's framing cannot be trusted: the answer closes the connection.
    this.bodyPending = (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined || problem !== undefined;
    // Two Luna-Request-Id lines: neither is echoed.
    const rid = checkRequestId(problem === undefined ? headers['luna-request-id'] : undefined);
    this.requestId = rid.id;
    this.headerProblem = problem ?? rid.error;
    this.framingInDoubt = problem !== undefined;
    this.cors = origins === undefined ? undefined : corsHeaders(origins, headers.origin);
    res.onAborted(() => {
      this.aborted = true;
      this.finish(499);
    });
  }

  /** The first problem that belongs to every request: a repeated header, then a malformed request id. */
  headerError(): LunaError | undefined {
    return this.headerProblem;
  }

  send(status: number, contentType: string | undefined, body: string | Uint8Array, headers?: Record<string, string>, close = false): void {
    if (this.aborted || this.done) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      this.res.writeHeader('Luna-Request-Id', this.requestId);
      if (contentType !== undefined) this.res.writeHeader('Content-Type', contentType);
      if (headers) for (const k in headers) this.res.writeHeader(k, headers[k]);
      if (this.cors) for (const k in this.cors) this.res.writeHeader(k, this.cors[k]);
      const closing = close || this.bodyPending || this.drain?.draining === true;
      if (closing && this.deferClose) {
        // A response may not be touched once ended (uWS 20.30 throws), yet uWS goes on feeding the
        // body to onData; so the answer goes out as one chunk of a chunked body with the response
        // left open, and finishDiscard completes it or cuts the connection.
        this.res.writeHeader('Connection', 'close');
        this.res.write(body);
        this.openAnswer = true;
      } else if (this.method === 'HEAD') this.res.endWithoutBody(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, closing);
      else this.res.end(body, closing);
    });
    this.finish(status);
  }

  /**
   * readBody stopped discarding a body answered early. `complete`: uWS read the body to its end, so
   * the connection is cleanly framed: the answer is completed (its `Connection: close` asks the
   * client to close; uWS's idle timeout closes it otherwise; end(.., true) cannot be used here, as
   * uWS 20.30 then writes a stray header line after the chunk). Otherwise the discard budget ran
   * out: the connection is cut, after the whole answer chunk but before the terminating one.
   */
  finishDiscard(complete: boolean): void {
    if (!this.openAnswer || this.aborted) return;
    this.openAnswer = false;
    if (complete) this.res.cork(() => this.res.end());
    else this.res.close();
  }

  json(status: number, value: unknown, headers?: Record<string, string>): void {
    this.send(status, 'application/json', JSON.stringify(value), headers);
  }

  error(err: LunaError, headers?: Record<string, string>, close = false): void {
    const own = err.def.headers;
    this.send(err.status, 'application/json', err.body(), own === undefined ? headers : { ...own, ...headers }, close);
  }

  /** Marks the exchange answered and writes its one log line. */
  finish(status: number): void {
    if (this.done) return;
    this.done = true;
    this.count?.(this.route, status);
    const duration = Number(process.hrtime.bigint() - this.started) / 1e6;
    this.log.info(
      { request_id: this.requestId, method: this.method, path: this.path, status, duration_ms: Math.round(duration * 1000) / 1000, account_id: this.account },
      'request',
    );
  }
}
