import { configAsText, maskedConfig } from '../config/index.js';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError } from '../errors.js';
import { VERSION } from '../version.js';
import { negotiate } from './accept.js';
import { addRoute, type RouteTable } from './router.js';

/** GET /version, /config, /plugins, /metrics, /healthcheck. */
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

  addRoute(table, 'GET', '/metrics', (ex) => {
    ex.send(200, 'text/plain; version=0.0.4; charset=utf-8', ctx.metrics.render({ gauges: ctx.gauges(), bus: ctx.bus.stats() }));
  });

  addRoute(table, 'GET', '/healthcheck', async (ex) => {
    const started = process.hrtime.bigint();
    try {
      await ctx.bus.check(ctx.config.SENDER_REDIS_TIMEOUT * 1000);
    } catch (err) {
      const e = new LunaError(Errors.Unavailable, (err as Error).message, 502);
      return ex.error(e);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    ex.json(200, { execution_time: Math.round(seconds * 1e6) / 1e6 });
  });
}
