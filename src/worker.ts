import { listen, uws, type UWS } from './uws.js';
import type { Config } from './config/index.js';
import type { Bus } from './bus/bus.js';
import { createBus } from './bus/create.js';
import type { WorkerContext } from './context.js';
import { CloseCodes } from './errors.js';
import { Registry } from './fanout/registry.js';
import { docsRoutes } from './http/docs-routes.js';
import { infoRoutes } from './http/info-routes.js';
import { publishRoutes } from './http/publish.js';
import { mountRoutes, type RouteTable } from './http/router.js';
import { wsFallbackRoutes } from './http/ws-fallback.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Plugins } from './plugins.js';
import { API_PREFIXES } from './version.js';
import { closeWith, mountWebSocket, sweepSlowConsumers } from './ws/route.js';
import type { Subscriber } from './ws/subscriber.js';

/** How often socket backlogs are compared with SENDER_MAX_BACKPRESSURE (while events flow). */
const SWEEP_INTERVAL_MS = 100;

export interface RunningWorker {
  readonly port: number;
  readonly context: WorkerContext;
  /** Stop accepting, close every socket with 1001, stop the bus; reverse order of start-up. */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Use this bus instead of the configured one (tests, benchmarks). */
  bus?: Bus;
  log?: Logger;
}

/** One uWS app and one bus reader: the unit that the supervisor forks N times. */
export async function startWorker(config: Config, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const metrics = new Metrics();
  const bus = opts.bus ?? (await createBus(config, log));
  const plugins = new Plugins(log);
  await plugins.load(config.SENDER_PLUGINS, { config, log });

  const app = uws.App();
  const sockets = { open: new Set<UWS.WebSocket<Subscriber>>() };
  const registry = new Registry((topic, frame) => app.publish(topic, frame, false, false), metrics);
  const context: WorkerContext = {
    config,
    log,
    bus,
    metrics,
    plugins,
    gauges() {
      const r = registry.stats();
      const b = bus.stats();
      return {
        luna_sender_process_pid: { help: 'The pid of the worker that answered (metrics are per worker).', value: process.pid },
        luna_sender_open_connections: { help: 'WebSocket connections open now.', value: sockets.open.size },
        luna_sender_subscriptions: { help: 'Subscriptions (one per open socket).', value: r.subscriptions },
        luna_sender_distinct_filters: { help: 'Distinct (account, filter) topics.', value: r.topics },
        luna_sender_compiled_predicates: { help: 'Compiled predicates shared by all accounts.', value: r.compiled },
        luna_sender_stream_lag_ms: { help: 'Age of the newest stream entry at the last read.', value: b.lagMs },
        luna_sender_stream_gap_entries: { help: 'Stream entries trimmed away before this worker read them.', value: b.gaps },
        luna_sender_malformed_stream_entries: { help: 'Malformed stream entries skipped.', value: b.malformed },
      };
    },
  };

  const wsPaths = API_PREFIXES.map((api) => `/${api}/ws`);
  const publishPaths = API_PREFIXES.map((api) => `/${api}/publish`);
  mountWebSocket(app, wsPaths, context, registry, sockets);
  const table: RouteTable = new Map();
  infoRoutes(table, context);
  docsRoutes(table, context);
  publishRoutes(table, publishPaths, context);
  wsFallbackRoutes(table, wsPaths);
  mountRoutes(app, table, log);

  const onEvent = plugins.hasEventHooks
    ? (ev: Parameters<Registry['deliver']>[0]) => {
        plugins.emitEvent(ev.account, ev.frame);
        registry.deliver(ev);
      }
    : (ev: Parameters<Registry['deliver']>[0]) => registry.deliver(ev);
  await bus.start(onEvent);
  // The LUNA Handlers channel feeds the stream; every worker runs a bridge, one holds its lease.
  let bridge: { close(): Promise<void> } | undefined;
  if (bus.kind === 'redis') {
    const { LunaBridge } = await import('./bus/luna-bridge.js');
    const b = new LunaBridge(config, log, bus, metrics);
    await b.start();
    bridge = b;
  }

  // Slow-consumer sweep: only when something was delivered since the last one.
  let deliveriesAtSweep = 0;
  const sweeper = setInterval(() => {
    if (metrics.deliveries === deliveriesAtSweep) return;
    deliveriesAtSweep = metrics.deliveries;
    sweepSlowConsumers(sockets, config.SENDER_MAX_BACKPRESSURE);
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  // Port sharing is for workers of one Redis stream; an in-process bus refuses to share (SPEC 11).
  const listenSocket = await listen(app, config.SENDER_HOST, config.SENDER_PORT, { exclusive: bus.kind === 'memory' });
  const port = uws.us_socket_local_port(listenSocket as unknown as UWS.us_socket);
  log.info({ port, host: config.SENDER_HOST, bus: bus.kind }, `luna-sender listening on ${config.SENDER_HOST}:${port}`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(sweeper);
      uws.us_listen_socket_close(listenSocket);
      for (const ws of [...sockets.open]) closeWith(ws, CloseCodes.GoingAway);
      await bridge?.close();
      await bus.close();
      await plugins.close();
      log.info({ port }, 'worker stopped');
    })());
  return { port, context, close };
}
