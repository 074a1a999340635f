import { Errors, LunaError } from '../errors.js';
import { addRoute, type RouteTable } from './router.js';

/** A plain GET on /{api}/ws (no Upgrade header) reaches the HTTP table: 426. */
export function wsFallbackRoutes(table: RouteTable, paths: readonly string[]): void {
  for (const p of paths) {
    addRoute(table, 'GET', p, (ex) => ex.error(new LunaError(Errors.UpgradeRequired, 'websocket upgrade required'), { Upgrade: 'websocket' }));
  }
}
