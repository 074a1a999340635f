import { Agent, get } from 'node:http';

/**
 * The orchestrator's view of the server: GET /version latency (a request that does no work, so
 * its latency is the time the request waits for the server's event loop plus loopback and parse
 * cost) and the Prometheus counters of GET /metrics. One keep-alive socket: no connect in the timing.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function fetchText(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = get({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - t0 }));
    req.on('timeout', () => req.destroy());
  });
}

/** ms of one GET /version; NaN when it failed or timed out (5 s). */
export async function versionLatencyMs(port: number): Promise<number> {
  const r = await fetchText(port, '/version', 5000);
  return r.status === 200 ? r.ms : NaN;
}

/** Every unlabelled sample of GET /metrics, by name. Empty when the scrape failed. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const r = await fetchText(port, '/metrics', 5000);
  if (r.status !== 200) return out;
  for (const line of r.body.split('\n')) {
    const m = /^([a-z_]+) ([0-9.eE+-]+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export function closeProbe(): void {
  agent.destroy();
}
