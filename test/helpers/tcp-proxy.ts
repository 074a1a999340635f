import { createServer, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections accepted so far (each client connection counts once). */
  readonly accepted: number;
  /**
   * A network blip: destroys every open connection on both sides, no close frame. With `hold`, new
   * connections are destroyed on arrival too until `restore()`: the network stays down.
   */
  drop(opts?: { hold?: boolean }): void;
  restore(): void;
  /** Where new connections go from now on (a restarted gateway). */
  retarget(port: number): void;
  close(): Promise<void>;
}

/** A raw TCP proxy on 127.0.0.1 in front of `targetPort`: a real socket that can drop or refuse. */
export function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let holding = false;
  let accepted = 0;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    accepted++;
    if (holding) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const drop = (opts: { hold?: boolean } = {}) => {
    holding = opts.hold === true;
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        get accepted() {
          return accepted;
        },
        drop,
        restore() {
          holding = false;
        },
        retarget(p) {
          target = p;
        },
        close() {
          drop();
          return new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}
