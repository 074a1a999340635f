/**
 * A subscriber for integrators that survives disconnects (SPEC 9): it subscribes with
 * `positions=1`, keeps the position of the last frame, reconnects with exponential backoff and
 * jitter, resumes from that position, and when the gateway refuses the resume (410) it subscribes
 * afresh and says so through `onGap`, so an integrator always knows when events may be missing.
 *
 * One file, no imports: it runs unchanged in browsers and in Node (pass `WebSocket` from the `ws`
 * package on Node 20, which has no global WebSocket). What each transport can see differs, and the
 * client uses what it finds rather than asking which one it is:
 * - `ws` (an EventEmitter with `on`) shows the 101's headers (`upgrade`) and a refused handshake's
 *   status and body (`unexpected-response`): the client knows the start position before any frame
 *   and tells a 410 from a network failure.
 * - A browser WebSocket shows neither. A refused handshake looks like a network failure (close 1006
 *   before open), so a failed resume is followed by a probe: a fresh connection. If the probe opens,
 *   the gateway is reachable and accepts the account and filter; the resume is tried once more and,
 *   failing again, treated as refused. And before the first frame the position is unknown, so a drop
 *   then resubscribes fresh and reports the gap (`no-position`).
 */

/** The part of a WebSocket the client uses: the browser API, which `ws` implements too. */
export interface WebSocketLike {
  readonly readyState: number;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: { data?: unknown; code?: number; reason?: string }) => void): void;
}

/** `ws`'s extras, found by feature test: the 101's headers and a refused handshake's answer. */
interface NodeWebSocketExtras {
  on(event: 'upgrade', listener: (res: { headers: Record<string, string | string[] | undefined> }) => void): unknown;
  on(event: 'unexpected-response', listener: (req: unknown, res: HttpAnswer) => void): unknown;
  terminate(): void;
}
interface HttpAnswer {
  statusCode?: number;
  on(event: 'data', listener: (chunk: { toString(): string }) => void): unknown;
  on(event: 'end' | 'error', listener: () => void): unknown;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface BackoffOptions {
  /** First delay after a drop, in ms (250). */
  initialMs?: number;
  /** Ceiling of the delay (10000). */
  maxMs?: number;
  /** Growth per failed attempt (2). */
  factor?: number;
  /** Spread the delay over [delay/2, delay] so that clients dropped together do not return together (true). */
  jitter?: boolean;
}

/** Why events may be missing; after a gap the client has subscribed afresh. */
export interface LunaGap {
  /**
   * `refused`: the gateway cannot replay after `position` (410: epoch changed, no longer retained,
   * ahead of the stream; or a malformed token). `history-lost`: the socket was closed with 4010 while
   * replaying. `no-position`: the connection dropped before the client learnt any position (a
   * browser before its first frame), so it could not ask for a replay.
   */
  reason: 'refused' | 'history-lost' | 'no-position';
  /** The gateway's detail when it could be read (`Cannot resume: epoch changed`), else a description. */
  detail: string;
  /** The position the client could not resume from. */
  position: string | undefined;
}

export type LunaState =
  | { state: 'connecting'; attempt: number; resume: string | undefined }
  | { state: 'open'; resumed: boolean; position: string | undefined }
  /** Waiting `delayMs` before the next attempt. `code`/`reason`: the close that ended the last connection or attempt. */
  | { state: 'waiting'; attempt: number; delayMs: number; code: number; reason: string }
  /** A refusal that retrying cannot fix (400, 403, 404: a bad filter, account or path); the client stopped. */
  | { state: 'failed'; status: number; detail: string }
  | { state: 'stopped' };

export interface LunaClientOptions {
  /** The gateway, `ws://host:5080` or `wss://host/prefix`; `/{api}/ws` is appended to its path. */
  url: string;
  /** 1 or 2 (2). */
  api?: 1 | 2;
  /** Luna-Account-Id, sent as the `luna_account_id` query parameter (browsers cannot set headers). */
  account: string;
  /** Filter parameters (SPEC 4) as an object (lists as arrays or comma-separated) or a query string. */
  filters?: Record<string, string | number | readonly (string | number)[]> | string;
  /** A position token to start from, e.g. one persisted from a previous run's `onEvent`. */
  position?: string;
  /** Defaults to `globalThis.WebSocket`; on Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /**
   * Every event's frame as received (the gateway's bytes, with `"position"` as its last key) and its
   * position. Parse it as you need; `JSON.parse` loses integers above 2^53.
   */
  onEvent(frame: string, position: string | undefined): void;
  onState?(state: LunaState): void;
  onGap?(gap: LunaGap): void;
  backoff?: BackoffOptions;
  /** A handshake not answered within this many ms is abandoned and retried (10000). */
  connectTimeoutMs?: number;
}

/** Parameters the client sets itself; given in `filters` they would break resuming. */
const OWN_PARAMS = ['luna_account_id', 'positions', 'resume'];
/** The close code `stop()` sends (RFC 6455 normal closure). */
const NORMAL_CLOSURE = 1000;
/** Ours (SPEC 9, src/errors.ts CloseCodes.HistoryLost): the replay lost its history; resume is pointless. */
const HISTORY_LOST = 4010;
/** A frame's position: its last key, `"position": "<token>"` (SPEC 9), read without parsing the frame. */
const FRAME_POSITION = /"position":\s*"([A-Za-z0-9_:-]+)"\s*}\s*$/;

/** The subscription URL: `{url}/{api}/ws?<filters>&luna_account_id=..&positions=1[&resume=..]`. */
export function subscriptionUrl(opts: Pick<LunaClientOptions, 'url' | 'api' | 'account' | 'filters'>, resume?: string): string {
  const u = new URL(opts.url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/${opts.api ?? 2}/ws`;
  const q = new URLSearchParams(typeof opts.filters === 'string' ? opts.filters.replace(/^\?/, '') : undefined);
  if (typeof opts.filters === 'object') {
    for (const [k, v] of Object.entries(opts.filters)) q.append(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  for (const k of OWN_PARAMS) if (q.has(k)) throw new TypeError(`filters must not set '${k}': the client sets it`);
  q.set('luna_account_id', opts.account);
  q.set('positions', '1');
  if (resume !== undefined) q.set('resume', resume);
  u.search = q.toString();
  return u.toString();
}

/** The delay before attempt `attempt` (1, 2, ...): exponential, capped, optionally spread over [d/2, d]. */
export function backoffDelay(attempt: number, b: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialMs = 250, maxMs = 10000, factor = 2, jitter = true } = b;
  const d = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  return jitter ? d / 2 + (random() * d) / 2 : d;
}

/** How one connection or attempt ended. */
export interface Ended {
  opened: boolean;
  code: number;
  reason: string;
  /** The refused handshake's HTTP answer, when the transport shows it (`ws`). */
  refusal?: { status: number; detail: string };
  /** False for transports that hide refusals (browsers): a failure before open may be one. */
  refusalsVisible: boolean;
}

/** What a connection attempt is for; a browser's failed resume goes resume -> probe -> confirm. */
export type Purpose = 'subscribe' | 'probe' | 'confirm';

export class LunaSenderClient {
  readonly #opts: LunaClientOptions;
  readonly #WS: WebSocketConstructor;
  #position: string | undefined;
  #socket: WebSocketLike | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #running = false;

  constructor(opts: LunaClientOptions) {
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) throw new TypeError('no WebSocket: pass the WebSocket option (on Node 20, WebSocket from the ws package)');
    subscriptionUrl(opts); // throws now on a bad url or filters, not at the first connect
    this.#opts = opts;
    this.#WS = WS;
    this.#position = opts.position;
  }

  /** The last position received (a frame's, or a 101's where the transport shows it); persist it to resume later. */
  get position(): string | undefined {
    return this.#position;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    this.#dial('subscribe');
  }

  /** Closes with 1000 and stops reconnecting; `position` stays, so `start()` resumes from it. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    const s = this.#socket;
    this.#socket = undefined;
    if (s !== undefined) closeSocket(s, NORMAL_CLOSURE, 'stop');
    this.#opts.onState?.({ state: 'stopped' });
  }

  #dial(purpose: Purpose): void {
    // A probe is fresh by definition; every other attempt resumes when it has a position.
    const resume = purpose === 'probe' ? undefined : this.#position;
    if (purpose === 'subscribe') this.#opts.onState?.({ state: 'connecting', attempt: this.#attempt, resume });
    const ws = new this.#WS(subscriptionUrl(this.#opts, resume));
    this.#socket = ws;
    const mine = () => this.#socket === ws && this.#running;
    let opened = false;
    let refusal: Ended['refusal'];
    let ended = false;
    const timer = setTimeout(() => closeSocket(ws, NORMAL_CLOSURE, 'connect timeout'), this.#opts.connectTimeoutMs ?? 10000);
    const extras = typeof (ws as Partial<NodeWebSocketExtras>).on === 'function' ? (ws as unknown as NodeWebSocketExtras) : undefined;
    if (extras !== undefined) {
      extras.on('upgrade', (res) => {
        const p = res.headers['luna-stream-position'];
        // SPEC 9: everything after the 101's position is delivered, so it is a valid resume point.
        if (typeof p === 'string' && mine() && purpose !== 'probe') this.#position = p;
      });
      extras.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c) => {
          body += c.toString();
        });
        const done = () => {
          refusal = { status: res.statusCode ?? 0, detail: errorDetail(body) };
          extras.terminate(); // with this listener present, ws leaves aborting the handshake to us
        };
        res.on('end', done);
        res.on('error', done);
      });
    }
    ws.addEventListener('open', () => {
      clearTimeout(timer);
      opened = true;
      if (!mine()) return closeSocket(ws, NORMAL_CLOSURE, 'stale');
      if (purpose === 'probe') return closeSocket(ws, NORMAL_CLOSURE, 'probe');
      this.#attempt = 0;
      this.#opts.onState?.({ state: 'open', resumed: resume !== undefined, position: this.#position });
    });
    ws.addEventListener('message', (ev) => {
      if (!mine() || purpose === 'probe' || typeof ev.data !== 'string') return;
      const position = FRAME_POSITION.exec(ev.data)?.[1];
      if (position !== undefined) this.#position = position;
      this.#opts.onEvent(ev.data, position);
    });
    ws.addEventListener('error', () => {
      // Always followed by close; listening keeps `ws` from throwing an unhandled 'error'.
    });
    ws.addEventListener('close', (ev) => {
      clearTimeout(timer);
      if (ended) return;
      ended = true;
      if (this.#socket !== ws) return;
      this.#socket = undefined;
      if (!this.#running) return;
      this.#ended(purpose, { opened, code: ev.code ?? 1006, reason: ev.reason ?? '', refusal, refusalsVisible: extras !== undefined });
    });
  }

  #ended(purpose: Purpose, e: Ended): void {
    const next = nextStep(purpose, e, this.#position !== undefined);
    switch (next.step) {
      case 'dial':
        this.#dial(next.purpose);
        break;
      case 'retry':
        this.#retry(e);
        break;
      case 'gap':
        this.#gap(next.reason, next.detail, next.backoff ? e : undefined);
        break;
      case 'fail':
        this.#running = false;
        this.#opts.onState?.({ state: 'failed', status: next.status, detail: next.detail });
        break;
    }
  }

  /**
   * Forgets the position, reports the gap and subscribes afresh: at once after a refused resume (the
   * gateway is up), after the usual backoff when a connection ended (`e`), so that a gateway that
   * keeps closing sockets just after the 101 is not hammered.
   */
  #gap(reason: LunaGap['reason'], detail: string, e?: Ended): void {
    const position = this.#position;
    this.#position = undefined;
    this.#opts.onGap?.({ reason, detail, position });
    if (e === undefined) this.#dial('subscribe');
    else this.#retry(e);
  }

  #retry(e: Ended): void {
    this.#attempt++;
    const delayMs = backoffDelay(this.#attempt, this.#opts.backoff);
    this.#opts.onState?.({ state: 'waiting', attempt: this.#attempt, delayMs, code: e.code, reason: e.refusal ? `HTTP ${e.refusal.status}` : e.reason });
    this.#timer = setTimeout(() => {
      if (this.#running) this.#dial('subscribe');
    }, delayMs);
  }
}

export type Next =
  | { step: 'dial'; purpose: Purpose }
  | { step: 'retry' }
  | { step: 'gap'; reason: LunaGap['reason']; detail: string; backoff: boolean }
  | { step: 'fail'; status: number; detail: string };

/**
 * What to do after a connection or attempt for `purpose` ended as `e`, the client holding a position
 * or not. The whole reconnect policy; pure, so the unit tests walk its table.
 */
export function nextStep(purpose: Purpose, e: Ended, hasPosition: boolean): Next {
  if (purpose === 'probe') {
    // The gateway accepted a fresh subscription: try the resume once more; failing too, it was refused.
    return e.opened ? { step: 'dial', purpose: 'confirm' } : { step: 'retry' };
  }
  if (e.opened) {
    if (e.code === HISTORY_LOST) return { step: 'gap', reason: 'history-lost', detail: `closed with ${e.code} ${e.reason}`, backoff: true };
    if (!hasPosition) {
      const detail = 'the connection dropped before any position arrived: events between the drop and the new subscription are lost';
      return { step: 'gap', reason: 'no-position', detail, backoff: true };
    }
    return { step: 'retry' };
  }
  if (e.refusal !== undefined) {
    const { status, detail } = e.refusal;
    // 410, or a 400 naming `resume`: a malformed token, e.g. a corrupted persisted one.
    if (hasPosition && (status === 410 || (status === 400 && detail.includes("'resume'")))) return { step: 'gap', reason: 'refused', detail, backoff: false };
    // Other 4xx (bad filter, account, path) stay wrong however often they are retried.
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { step: 'fail', status, detail };
    return { step: 'retry' };
  }
  if (!e.refusalsVisible && hasPosition) {
    if (purpose === 'confirm') {
      const detail = 'the resume was refused (this WebSocket does not show the HTTP status) while a fresh subscription was accepted';
      return { step: 'gap', reason: 'refused', detail, backoff: false };
    }
    return { step: 'dial', purpose: 'probe' };
  }
  return { step: 'retry' };
}

function closeSocket(ws: WebSocketLike, code: number, reason: string): void {
  try {
    const t = (ws as Partial<NodeWebSocketExtras>).terminate;
    // ws: terminate cuts a handshake in progress at once; close would wait for it.
    if (ws.readyState === 0 && typeof t === 'function') t.call(ws);
    else ws.close(code, reason);
  } catch {
    // Already closing: nothing to do.
  }
}

/** The `detail` of a LUNA error body, or the body itself. */
function errorDetail(body: string): string {
  try {
    const d = (JSON.parse(body) as { detail?: unknown }).detail;
    if (typeof d === 'string') return d;
  } catch {
    // not JSON
  }
  return body;
}
