import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { ACCOUNT, publish, publishBody } from './http.js';
import { type Client, connect } from './ws-client.js';

/**
 * Load for a rolling restart: one loop of publishes (keep-alive, as a publisher holds its
 * connection) and a few loops of new WebSocket connects, each closed again once its 101 arrived.
 * Every outcome is counted; nothing here judges, the test does. Bounded in count; the test stops it.
 */
export interface LoadResult {
  published: number;
  /** Publishes answered otherwise than 201, or not answered: "status text" or the error. */
  publishFailures: string[];
  connected: number;
  /** Connects refused by the kernel: no listener on the port. */
  refused: number;
  /** Connects reset before their 101: the SO_REUSEPORT accept-queue hazard (see tcpMigrateReq). */
  reset: number;
  /** Any other failed connect (an HTTP answer instead of 101, a close before open...). */
  connectFailures: string[];
}

export interface Load {
  stop(): Promise<LoadResult>;
}

export function startLoad(port: number, { connectLoops = 4, maxEach = 20_000 } = {}): Load {
  const base = `http://127.0.0.1:${port}`;
  const r: LoadResult = { published: 0, publishFailures: [], connected: 0, refused: 0, reset: 0, connectFailures: [] };
  let running = true;
  const publishLoop = async () => {
    for (let i = 0; running && i < maxEach; i++) {
      try {
        const a = await publish(base, publishBody([{ seq: i }]), {}, 2);
        if (a.status === 201) r.published++;
        else r.publishFailures.push(`${a.status} ${a.text}`);
      } catch (err) {
        r.publishFailures.push(String((err as Error).cause ?? err));
      }
    }
  };
  const connectOnce = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/2/ws`, { headers: { 'Luna-Account-Id': ACCOUNT } });
      let opened = false;
      ws.on('open', () => {
        opened = true;
        r.connected++;
        ws.close();
      });
      ws.on('unexpected-response', (_req, res) => {
        r.connectFailures.push(`HTTP ${res.statusCode}`);
        res.resume();
        resolve();
      });
      ws.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED') r.refused++;
        else if (e.code === 'ECONNRESET' && !opened) r.reset++;
        else r.connectFailures.push(`${e.code ?? ''} ${e.message}`);
        resolve();
      });
      ws.on('close', () => resolve());
    });
  const connectLoop = async () => {
    for (let i = 0; running && i < maxEach; i++) await connectOnce();
  };
  const loops = [publishLoop(), ...Array.from({ length: connectLoops }, connectLoop)];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return r;
    },
  };
}

/**
 * net.ipv4.tcp_migrate_req (Linux >= 5.14): when 1, connections queued on a listener that closes
 * move to another listener of its SO_REUSEPORT group; when 0 the kernel resets them. Measured here
 * (2 workers, 50 connect loops, 10 restarts): 8 resets with 0, none with 1.
 */
export function tcpMigrateReq(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** Subscribers whose close records whether the restart had begun when it came. */
export interface Watched {
  client: Client;
  close: Promise<{ code: number; afterStart: boolean }>;
}

export async function watchedSubscribers(port: number, n: number, started: () => boolean): Promise<Watched[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => connect(`ws://127.0.0.1:${port}/2/ws`, { 'Luna-Account-Id': ACCOUNT })));
  return clients.map((client) => ({ client, close: client.closed.then(({ code }) => ({ code, afterStart: started() })) }));
}
