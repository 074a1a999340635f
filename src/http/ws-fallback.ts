import type { WorkerContext } from '../context.js';
import { Errors, LunaError } from '../errors.js';
import { checkRequestId } from '../events/index.js';
import { validateHandshake } from '../ws/handshake.js';
import { addRoute, type RouteTable } from './router.js';

/**
 * A plain GET on /{api}/ws (no Upgrade header) reaches the HTTP table. It runs the same checks as
 * the upgrade, in the same order (request id, token with SENDER_AUTH=jwt, then the handshake
 * validation), and answers their error (400 12012, 401 29011, 403 29001) when the request could
 * never be upgraded, else 426. A browser's WebSocket cannot read a refused handshake's body, so a
 * page (the console) asks here first and shows the exact detail; an upgrade is not affected.
 * `resume` is only checked for its syntax: whether a position can be replayed is decided at the
 * upgrade, against the bus.
 */
export function wsFallbackRoutes(table: RouteTable, paths: readonly string[], ctx: WorkerContext): void {
  const { config, auth } = ctx;
  const limits = { maxQueryBytes: config.SENDER_MAX_QUERY_BYTES, maxListItems: config.SENDER_MAX_LIST_ITEMS };
  for (const p of paths) {
    addRoute(table, 'GET', p, async (ex) => {
      const requestIdHeader = ex.headers['luna-request-id'] || undefined;
      const input = { query: ex.query, accountHeader: ex.headers['luna-account-id'] || undefined, requestIdHeader };
      let result: ReturnType<typeof validateHandshake>;
      if (auth === undefined) {
        result = validateHandshake(input, limits);
      } else {
        const rid = checkRequestId(requestIdHeader);
        if (rid.error !== undefined) return ex.error(rid.error);
        const carriers = { authorization: ex.headers.authorization, protocols: ex.headers['sec-websocket-protocol'], query: ex.query };
        const authed = await auth.authenticate(carriers);
        if (authed instanceof LunaError) return ex.error(authed);
        result = validateHandshake({ ...input, query: authed.carried.query, grant: authed.grant }, limits);
      }
      if (result instanceof LunaError) return ex.error(result);
      ex.error(new LunaError(Errors.UpgradeRequired, 'websocket upgrade required'), { Upgrade: 'websocket' });
    });
  }
}
