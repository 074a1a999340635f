import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { type LunaClientOptions, type LunaGap, LunaSenderClient, type LunaState, type WebSocketConstructor } from '../../src/client/index.js';
import type { Gateway } from './gateway.js';
import { ACCOUNT, publish, publishBody } from './http.js';
import { withTimeout } from './timeout.js';
import type { Client } from './ws-client.js';

/** The module's client with everything it reports recorded, and a way to wait on it. */
export interface Tracked {
  client: LunaSenderClient;
  frames: string[];
  states: LunaState[];
  gaps: LunaGap[];
  /** Resolves once `cond` holds, re-checked after every report (a deadline, not a timing assert). */
  until(cond: () => boolean, what: string, ms?: number): Promise<void>;
  opens(): number;
}

/** `ws` as the client's WebSocket option (its typings are wider than the browser API the client needs). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/**
 * `ws` seen through the browser API only: no `on`, so no 101 headers and no refused handshake's
 * status; what the client has in a browser.
 */
export class BrowserLikeWebSocket {
  readonly #ws: WebSocket;
  constructor(url: string) {
    this.#ws = new WebSocket(url);
  }
  get readyState(): number {
    return this.#ws.readyState;
  }
  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: any) => void): void {
    this.#ws.addEventListener(type, listener);
  }
}

export function startClient(url: string, extra: Partial<LunaClientOptions> = {}): Tracked {
  const frames: string[] = [];
  const states: LunaState[] = [];
  const gaps: LunaGap[] = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const client = new LunaSenderClient({
    url,
    account: ACCOUNT,
    WebSocket: NodeWebSocket,
    // Short delays keep the tests quick; the policy is the same.
    backoff: { initialMs: 20, maxMs: 200 },
    onEvent: (f) => {
      frames.push(f);
      wake();
    },
    onState: (s) => {
      states.push(s);
      wake();
    },
    onGap: (g) => {
      gaps.push(g);
      wake();
    },
    ...extra,
  });
  client.start();
  return {
    client,
    frames,
    states,
    gaps,
    opens: () => states.filter((s) => s.state === 'open').length,
    until(cond, what, ms = 10000) {
      const holds = new Promise<void>((res) => {
        const check = () => (cond() ? res() : waiters.push(check));
        check();
      });
      return withTimeout(holds, ms, what);
    },
  };
}

let n = 0;
/** Publishes `count` events (one request each), numbered, gender alternating 0/1, source cycling cam0..cam2. */
export async function publishEvents(g: Gateway, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const k = n++;
    const a = await publish(g.url, publishBody([{ k, source: `cam${k % 3}`, face_attributes: { basic_attributes: { gender: k % 2 } } }]), {
      'Luna-Account-Id': ACCOUNT,
    });
    assert.equal(a.status, 201, a.text);
  }
}

/** A sentinel (gender 1, source cam1) that every raw subscriber and tracked client receives; resolves once each has it. */
export async function sentinel(g: Gateway, raws: Client[], tracked: Tracked[] = []): Promise<void> {
  const mark = `s${n++}`;
  const a = await publish(g.url, publishBody([{ sentinel: mark, source: 'cam1', face_attributes: { basic_attributes: { gender: 1 } } }]), {
    'Luna-Account-Id': ACCOUNT,
  });
  assert.equal(a.status, 201);
  const has = (frames: string[]) => frames.some((m) => m.includes(`"sentinel":"${mark}"`));
  await Promise.all([
    ...raws.map(async (c) => {
      while (!has(c.messages)) await c.waitFor(c.messages.length + 1);
    }),
    ...tracked.map((t) => t.until(() => has(t.frames), `sentinel ${mark}`)),
  ]);
}
