import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { startGateway } from '../../test/helpers/gateway.js';
import { ACCOUNT, HANDLER, publish, publishBody } from '../../test/helpers/http.js';
import { startRedis } from '../../test/helpers/redis.js';
import { connect } from '../../test/helpers/ws-client.js';
import { num, parseArgs } from '../lib/args.js';
import { fmt, printTable } from '../lib/table.js';

/**
 * What the SENDER_REDIS_MIN_REPLICAS hold costs the readers (README: "Idempotent publishing and
 * replicas"): a master, one replica, two in-process gateways on the same master, one with
 * SENDER_REDIS_MIN_REPLICAS=1 (its reader holds each batch until the replica acknowledges it),
 * one with 0 (delivers on sight). Publishes go through the first, one at a time; per publish: time
 * to the 201 and to the frame on each gateway's subscriber. Then producer XADDs without any WAIT,
 * which the replica acknowledges on its own once a second. INFO calls are counted on the master.
 *
 *   node build/bench/replicas/run.js [--publishes 300] [--xadds 20]
 */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function infoCalls(r: Redis): Promise<number> {
  const m = /cmdstat_info:calls=([0-9]+)/.exec(await r.info('commandstats'));
  return m === null ? 0 : Number(m[1]);
}

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const publishes = num(args, 'publishes', 300);
  const xadds = num(args, 'xadds', 20);
  const master = await startRedis(['--repl-diskless-sync-delay', '0']);
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const admin = new Redis(master.url);
  try {
    for (;;) {
      await admin.set('probe', '1');
      if (Number(await admin.call('WAIT', '1', '200')) === 1) break;
    }
    const hold = await startGateway({ REDIS_URL: master.url, SENDER_REDIS_MIN_REPLICAS: '1' });
    const plain = await startGateway({ REDIS_URL: master.url });
    try {
      const a = await connect(`ws://127.0.0.1:${hold.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
      const b = await connect(`ws://127.0.0.1:${plain.port}/2/ws`, { 'Luna-Account-Id': ACCOUNT });
      const arrival = (c: typeof a, n: number) => c.waitFor(n, 10000).then(() => performance.now());
      const acked: number[] = [];
      const held: number[] = [];
      const onSight: number[] = [];
      const info0 = await infoCalls(admin);
      for (let i = 0; i < publishes; i++) {
        const t0 = performance.now();
        const gotA = arrival(a, i + 1);
        const gotB = arrival(b, i + 1);
        const res = await publish(hold.url, publishBody([{ i }]));
        if (res.status !== 201) throw new Error(`publish ${i}: ${res.status} ${res.text}`);
        acked.push(performance.now() - t0);
        held.push((await gotA) - t0);
        onSight.push((await gotB) - t0);
      }
      const infoPerPublish = ((await infoCalls(admin)) - info0) / publishes;
      // A producer's own XADD (no `p`: the worker computes the facts): no WAIT asks the replica to acknowledge.
      const direct: number[] = [];
      const directPlain: number[] = [];
      const frame = JSON.stringify({
        event: { x: 1 },
        handler_id: HANDLER,
        'event-create-time': '2019-08-24T14:15:22Z',
        'event-end-time': '2019-08-24T14:15:23Z',
        'Luna-Request-id': '1,x',
      });
      for (let i = 0; i < xadds; i++) {
        const n = publishes + i + 1;
        const t0 = performance.now();
        const gotA = arrival(a, n);
        const gotB = arrival(b, n);
        await admin.xadd('luna-sender:events', '*', 'a', ACCOUNT, 'f', frame);
        direct.push((await gotA) - t0);
        directPlain.push((await gotB) - t0);
      }
      const row = (what: string, xs: number[]) => [what, fmt(quantile(xs, 0.5)), fmt(quantile(xs, 0.99)), fmt(Math.max(...xs))];
      printTable(
        `Publish with SENDER_REDIS_MIN_REPLICAS=1, one at a time, ${publishes} publishes, ${xadds} direct XADDs (ms from the send)`,
        ['what', 'p50', 'p99', 'max'],
        [
          row('201 answered', acked),
          row('delivered, reader holds (min replicas 1)', held),
          row('delivered, reader does not hold (min replicas 0)', onSight),
          row('direct XADD delivered, holding reader', direct),
          row('direct XADD delivered, reader does not hold', directPlain),
        ],
      );
      console.log(`INFO calls on the master per publish (both gateways; only the holding one calls INFO): ${fmt(infoPerPublish)}`);
      a.close();
      b.close();
    } finally {
      await hold.stop();
      await plain.stop();
    }
  } finally {
    admin.disconnect();
    await replica.stop();
    await master.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
