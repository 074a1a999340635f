import { readFileSync } from 'node:fs';
import { createAuth, ExpiryWheel, startExpirySweep } from './auth/index.js';
import { type Bus, compareIds, createBus, type DeliveredEvent } from './bus/index.js';
import type { Config } from './config/index.js';
import type { WorkerContext } from './context.js';
import { CloseCodes } from './errors.js';
import { Registry, startSlowConsumerSweep } from './fanout/index.js';
import { History } from './history/index.js';
import { exposition, HostMetrics, metricsDir } from './host-metrics.js';
import { createApp } from './http/app.js';
import { consoleRoutes } from './http/console.js';
import { docsRoutes } from './http/docs-routes.js';
import { HttpDrain } from './http/drain.js';
import { infoRoutes } from './http/info-routes.js';
import { parseOrigins } from './http/origins.js';
import { mountRoutes, type RouteTable } from './http/router.js';
import { wsFallbackRoutes } from './http/ws-fallback.js';
import { publishRoutes, startLunaBridge } from './inputs/index.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { Plugins } from './plugins.js';
import { listen, type UWS, uws } from './uws.js';
import { API_PREFIXES } from './version.js';
import { closeWith, mountWebSocket, ReplayScheduler, type SocketSet, type Subscriber } from './ws/index.js';

export interface RunningWorker {
  readonly port: number;
  readonly context: WorkerContext;
  /** Stop accepting, close every socket with 1001, let HTTP requests finish, stop the bus: reverse order of start-up. */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Use this bus instead of the configured one (tests, benchmarks). */
  bus?: Bus;
  log?: Logger;
}

/**
 * Fills the history with the last SENDER_RESUME_WINDOW seconds of the bus before the worker
 * listens, so that the resumes of a restart (a reload, a crash) replay from memory instead of one
 * stream read per subscriber. Best effort: on failure the worker serves older positions from the
 * bus per resume (ws/resume.ts). Events delivered meanwhile are already in the history, after these.
 */
async function preloadHistory(bus: Bus, history: History, config: Config, log: Logger): Promise<void> {
  const afterId = `${Math.max(0, Date.now() - config.SENDER_RESUME_WINDOW * 1000)}-0`;
  const upto = history.floorId;
  if (compareIds(afterId, upto) >= 0) return;
  try {
    const events = await bus.range(afterId, upto, config.SENDER_REDIS_TIMEOUT * 1000);
    if (history.epoch !== bus.position().epoch) return;
    history.prepend(events, afterId);
    if (events.length > 0) log.info({ events: events.length, held: history.heldEvents }, 'resume history preloaded from the bus');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'resume history not preloaded; older positions are read from the bus per resume');
  }
}

/** Quiet time (no HTTP request begun or ended) a closing worker waits for; see HttpDrain.settled. */
const DRAIN_QUIET_MS = 250;
/** How long clients get to answer the 1001 close frames before their connections are cut. */
const SOCKETS_CLOSE_MS = 2000;

async function waitUntil(cond: () => boolean, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (!cond() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Workers share the port (SO_REUSEPORT). When one closes its listener (a rolling restart), the
 * connections waiting in its accept queue are reset by the kernel unless it hands them to another
 * listener, which Linux does only with net.ipv4.tcp_migrate_req=1 (5.14+). Measured in the rolling
 * restart tests: a few resets in some runs with 0, none in ~12,000 connects with 1.
 */
function warnWithoutRequestMigration(log: Logger): void {
  let value: string;
  try {
    value = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    return; // not Linux, or a kernel without the setting: nothing to advise
  }
  if (value === '0') {
    log.warn('net.ipv4.tcp_migrate_req is 0: a rolling restart may reset a few connections queued at a closing worker; set it to 1 (README, Rolling restart)');
  }
}

/** One uWS app and one bus reader: the unit that the supervisor forks N times. */
export async function startWorker(config: Config, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  // Keys first: a key that cannot be read stops the worker before it opens anything.
  const auth = createAuth(config);
  const metrics = new Metrics();
  const bus = opts.bus ?? (await createBus(config, log));
  const plugins = new Plugins(log);
  await plugins.load(config.SENDER_PLUGINS, { config, log });

  const app = createApp(config);
  const sockets: SocketSet = new Set();
  const registry = new Registry((topic, frame) => app.publish(topic, frame, false, false), metrics);
  const context: WorkerContext = {
    config,
    log,
    bus,
    metrics,
    plugins,
    auth,
    origins: parseOrigins(config.SENDER_ALLOWED_ORIGINS),
    readings() {
      const r = registry.stats();
      const b = bus.stats();
      return {
        openConnections: sockets.size,
        subscriptions: r.subscriptions,
        distinctFilters: r.topics,
        compiledPredicates: r.compiled,
        historyBytes: history.heldBytes,
        historyEvents: history.heldEvents,
        replayingSockets: replays.size,
        lagSeconds: b.lagMs / 1000,
        heldEntries: b.held,
        gaps: b.gaps,
        malformed: b.malformed,
        resets: b.resets,
      };
    },
    // Replaced once the port is known (nothing is served before).
    scrape: async () => exposition(metrics.families(context.readings())),
    state: 'starting',
  };

  const wsPaths = API_PREFIXES.map((api) => `/${api}/ws`);
  const publishPaths = API_PREFIXES.map((api) => `/${api}/publish`);
  // Positions and resume (SPEC 9): every delivered event enters the history first, then the fan-out.
  const history = new History({ maxBytes: config.SENDER_RESUME_HISTORY_BYTES });
  const replays = new ReplayScheduler();
  const expiry = new ExpiryWheel<UWS.WebSocket<Subscriber>>();
  mountWebSocket(app, wsPaths, context, registry, sockets, { history, replays, expiry });
  const table: RouteTable = new Map();
  infoRoutes(table, context);
  docsRoutes(table, context);
  publishRoutes(table, publishPaths, context);
  wsFallbackRoutes(table, wsPaths, context);
  consoleRoutes(table, context);
  const drain = new HttpDrain();
  mountRoutes(app, table, log, drain, context.origins, (route, status) => metrics.countHttp(route, status));

  const deliver = (ev: DeliveredEvent) => {
    registry.deliver(history.append(ev), history.epoch);
    replays.delivered();
  };
  const onEvent = plugins.hasEventHooks
    ? (ev: DeliveredEvent) => {
        plugins.emitEvent(ev.account, ev.frame);
        deliver(ev);
      }
    : deliver;
  // The bus lost its history: a replay still catching up can no longer be exact (live sockets go on).
  const onEpoch = (epoch: string) => {
    history.reset(epoch, '0-0');
    for (const r of replays.all()) closeWith(r.ws, CloseCodes.HistoryLost);
    log.warn({ epoch }, 'the bus history was lost (new epoch): resumes from before it are refused');
  };
  await bus.start(onEvent, onEpoch);
  const start = bus.position();
  history.reset(start.epoch, start.lastId);
  await preloadHistory(bus, history, config, log);
  const bridge = await startLunaBridge(config, log, bus, metrics);
  const stopSweep = startSlowConsumerSweep({
    sockets,
    limit: config.SENDER_MAX_BACKPRESSURE,
    close: (ws) => closeWith(ws, CloseCodes.SlowConsumer),
    delivered: () => metrics.topicPublishes + metrics.replayedFrames,
  });
  const stopExpiry = startExpirySweep(expiry, (ws) => closeWith(ws, CloseCodes.TokenExpired));

  // Port sharing is for workers of one Redis stream; an in-process bus refuses to share (SPEC 11).
  const listenSocket = await listen(app, config.SENDER_HOST, config.SENDER_PORT, { exclusive: bus.kind === 'memory' });
  if (bus.kind !== 'memory') warnWithoutRequestMigration(log);
  const port = uws.us_socket_local_port(listenSocket as unknown as UWS.us_socket);
  const host = new HostMetrics(metricsDir(port), () => metrics.families(context.readings()), log);
  host.start();
  context.scrape = () => host.expose();
  context.state = 'ready';
  log.info(
    { port, host: config.SENDER_HOST, bus: bus.kind, tls: config.SENDER_TLS_CERT_FILE !== '' },
    `luna-sender listening on ${config.SENDER_HOST}:${port}`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Stop accepting first: the kernel then sends new connections to the other listeners of the
      // port (workers of a rolling restart: the replacement already listens). From here on every
      // HTTP answer says `Connection: close`, so keep-alive clients move too.
      context.state = 'draining';
      uws.us_listen_socket_close(listenSocket);
      drain.start();
      for (const ws of [...sockets]) closeWith(ws, CloseCodes.GoingAway);
      // Requests already here finish (a publish waits for Redis at most SENDER_REDIS_TIMEOUT), and
      // connections accepted just before the close get their request read and answered.
      const unfinished = await drain.settled(DRAIN_QUIET_MS, config.SENDER_REDIS_TIMEOUT * 1000 + DRAIN_QUIET_MS);
      if (unfinished > 0) log.warn({ port, requests: unfinished }, 'shutdown: HTTP requests still unanswered');
      // A socket upgraded meanwhile (its request was accepted before the close) goes away too; the
      // clients answer the close frames, and then the rest (idle keep-alive connections) is cut,
      // so no request meets a stopped bus.
      for (const ws of [...sockets]) closeWith(ws, CloseCodes.GoingAway);
      await waitUntil(() => sockets.size === 0, SOCKETS_CLOSE_MS);
      stopSweep();
      stopExpiry();
      (app as unknown as { close(): void }).close();
      await bridge?.close();
      await bus.close();
      await plugins.close();
      // Last: every close and request of this worker is in its final figures.
      await host.stop();
      log.info({ port }, 'worker stopped');
    })());
  return { port, context, close };
}
