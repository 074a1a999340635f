import type { Config } from '../config/index.js';
import { Errors, LunaError } from '../errors.js';
import { validateHandshake } from '../ws/handshake.js';
import { addRoute, type RouteTable } from './router.js';

/**
 * A plain GET on /{api}/ws (no Upgrade header) reaches the HTTP table. It runs the same handshake
 * validation as the upgrade and answers its error (400 12012, 403 29001) when the request could
 * never be upgraded, else 426. A browser's WebSocket cannot read a refused handshake's body, so a
 * page (the console) asks here first and shows the exact detail; an upgrade is not affected.
 * `resume` is only checked for its syntax: whether a position can be replayed is decided at the
 * upgrade, against the bus.
 */
export function wsFallbackRoutes(table: RouteTable, paths: readonly string[], config: Config): void {
  const limits = { maxQueryBytes: config.SENDER_MAX_QUERY_BYTES, maxListItems: config.SENDER_MAX_LIST_ITEMS };
  for (const p of paths) {
    addRoute(table, 'GET', p, (ex) => {
      const input = { query: ex.query, accountHeader: ex.headers['luna-account-id'] || undefined, requestIdHeader: ex.headers['luna-request-id'] || undefined };
      const result = validateHandshake(input, limits);
      if (result instanceof LunaError) return ex.error(result);
      ex.error(new LunaError(Errors.UpgradeRequired, 'websocket upgrade required'), { Upgrade: 'websocket' });
    });
  }
}
