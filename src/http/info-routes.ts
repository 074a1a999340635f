import { configAsText, maskedConfig } from '../config/index.js';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError } from '../errors.js';
import { VERSION } from '../version.js';
import { negotiate } from './accept.js';
import { coalesced, HEALTH_TIMEOUT_MS } from './health.js';
import { addRoute, type RouteTable } from './router.js';

/** GET /version, /config, /plugins, /metrics, /healthcheck, /health/live, /health/ready. */
export function infoRoutes(table: RouteTable, ctx: WorkerContext): void {
  const versionBody = JSON.stringify({ Version: VERSION });
  addRoute(table, 'GET', '/version', (ex) => ex.send(200, 'application/json', versionBody));

  // The config is frozen at start-up, so both renderings are computed once.
  const masked = maskedConfig(ctx.config);
  const configJson = JSON.stringify(masked);
  const configText = configAsText(masked);
  addRoute(table, 'GET', '/config', (ex) => {
    const accept = ex.headers.accept;
    // No Accept header gives JSON (SPEC section 2); otherwise negotiate between the two.
    const type = accept === undefined ? 'application/json' : negotiate(accept, ['application/json', 'text/plain']);
    if (type === undefined) {
      throw new LunaError(Errors.UnsupportedMediaType, `Accept '${accept}' allows none of application/json, text/plain`);
    }
    if (type === 'text/plain') ex.send(200, 'text/plain; charset=utf-8', configText);
    else ex.send(200, 'application/json', configJson);
  });

  addRoute(table, 'GET', '/plugins', (ex) => ex.json(200, { plugins: ctx.plugins.list() }));

  addRoute(table, 'GET', '/metrics', async (ex) => {
    const text = await ctx.scrape();
    ex.send(200, 'text/plain; version=0.0.4; charset=utf-8', text, { 'Luna-Sender-Worker': String(process.pid) });
  });

  // Both bus checks answer within HEALTH_TIMEOUT_MS whatever Redis does (SPEC 11: within 1 s).
  const timeoutMs = Math.min(ctx.config.SENDER_REDIS_TIMEOUT * 1000, HEALTH_TIMEOUT_MS);
  const check = coalesced(() => ctx.bus.check(timeoutMs));

  addRoute(table, 'GET', '/healthcheck', async (ex) => {
    const started = process.hrtime.bigint();
    try {
      await check();
    } catch (err) {
      const e = new LunaError(Errors.Unavailable, (err as Error).message, 502);
      return ex.error(e);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ex.json(200, { execution_time: Math.round(seconds * 1e6) / 1e6 });
  });

  const liveBody = JSON.stringify({ live: true });
  addRoute(table, 'GET', '/health/live', (ex) => ex.send(200, 'application/json', liveBody));

  const readyBody = JSON.stringify({ ready: true });
  addRoute(table, 'GET', '/health/ready', async (ex) => {
    if (ctx.state !== 'ready') throw new LunaError(Errors.Unavailable, `worker ${ctx.state === 'draining' ? 'draining for shutdown' : 'starting'}`);
    try {
      await check();
    } catch (err) {
      throw new LunaError(Errors.Unavailable, (err as Error).message);
    }
    // The worker may have begun draining while the bus answered.
    if (ctx.state !== 'ready') throw new LunaError(Errors.Unavailable, 'worker draining for shutdown');
    ex.send(200, 'application/json', readyBody);
  });
}
