import { type Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * One POST /2/publish for the benchmark publishers (fan-out and soak). Calls `done` exactly once:
 * with `error` undefined on a 201, otherwise with what went wrong (status and body, or the socket
 * error); `ms` is the round trip of an answered request (undefined when the socket failed).
 */
export function postPublish(
  port: number,
  account: string,
  agent: Agent,
  body: string,
  done: (error: string | undefined, ms: number | undefined) => void,
  /** PEM of the certificate to trust: the request goes over https (then `agent` is an https.Agent). */
  ca?: string,
  /** `Bearer <token>` for a SENDER_AUTH=jwt server. */
  authorization?: string,
): void {
  const t0 = performance.now();
  const req = (ca === undefined ? request : httpsRequest)(
    {
      ca,
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/2/publish',
      agent,
      headers: {
        'Content-Type': 'application/json',
        'Luna-Account-Id': account,
        'Content-Length': Buffer.byteLength(body),
        ...(authorization !== undefined ? { Authorization: authorization } : {}),
      },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done(res.statusCode === 201 ? undefined : `HTTP ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`, performance.now() - t0),
      );
    },
  );
  req.on('error', (err) => done(err.message, undefined));
  req.end(body);
}
