import { BusUnavailableError, BusUnconfirmedError } from '../bus/index.js';
import type { WorkerContext } from '../context.js';
import { Errors, LunaError } from '../errors.js';
import { type EventBatch, encodeBatch, UUID_RE, utf8ErrorOffset } from '../events/index.js';
import { readBody } from '../http/body.js';
import type { Exchange } from '../http/exchange.js';
import { addRoute, type RouteTable } from '../http/router.js';
import { publishBodySchema } from '../http/schemas.js';
import { BodyValidator } from '../http/validation.js';

/** SPEC 11: 1 to 64 of these. */
const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Content-Type must be application/json; parameters such as charset=utf-8 are allowed. */
function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0].trim().toLowerCase() === 'application/json';
}

export function publishRoutes(table: RouteTable, paths: readonly string[], ctx: WorkerContext): void {
  const { config, bus, metrics, log, auth } = ctx;
  const validator = new BodyValidator(publishBodySchema(config.SENDER_MAX_EVENTS_PER_PUBLISH));
  const timeoutMs = config.SENDER_REDIS_TIMEOUT * 1000;

  const handle = async (ex: Exchange): Promise<void> => {
    // The body is always read first (past the limit: discarded, see readBody), so that every answer,
    // errors included, leaves the keep-alive connection in a clean state. Checks then follow SPEC
    // order: request id (router), the token (SENDER_AUTH=jwt), account and permission, then the body.
    const read = await readBody(ex, config.SENDER_MAX_BODY_BYTES);
    const authed = auth === undefined ? undefined : await auth.authenticate({ authorization: ex.headers.authorization, protocols: undefined, query: ex.query });
    if (authed instanceof LunaError) throw authed;
    const accountHeader = ex.headers['luna-account-id'] || undefined;
    if (authed === undefined && accountHeader === undefined) {
      throw new LunaError(Errors.Forbidden, "Cannot publish events without 'Luna-Account-Id' header set");
    }
    if (accountHeader !== undefined && !UUID_RE.test(accountHeader))
      throw new LunaError(Errors.BadQueryOrHeader, "Bad header 'Luna-Account-Id': expected a UUID");
    // With a token its account is the account (SPEC 10); a header beside it must name the same one.
    const account = authed?.grant.account ?? (accountHeader as string).toLowerCase();
    if (authed !== undefined) {
      if (accountHeader !== undefined && accountHeader.toLowerCase() !== account) {
        throw new LunaError(Errors.Forbidden, "Header 'Luna-Account-Id' names another account than the token grants");
      }
      if (!authed.grant.creation) throw new LunaError(Errors.Forbidden, "The token does not grant 'creation' on 'event' (permissions)");
    }
    ex.account = account;
    const idempotencyKey = ex.headers['idempotency-key'];
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) {
      throw new LunaError(Errors.BadQueryOrHeader, "Bad header 'Idempotency-Key': expected 1 to 64 characters of A-Z a-z 0-9 _ . : -");
    }
    if (!read.ok) {
      return ex.error(new LunaError(Errors.BodyTooLarge, `Request body is larger than ${config.SENDER_MAX_BODY_BYTES} bytes`), undefined, true);
    }
    if (!isJson(ex.headers['content-type'])) {
      throw new LunaError(Errors.BadContentType, `Content-Type must be application/json, got '${ex.headers['content-type'] ?? ''}'`);
    }
    const raw = read.body;
    if (raw.length === 0) throw new LunaError(Errors.EmptyBody, 'Request body is empty');
    // Also checked by encodeBatch; checked here first so that a body that is not UTF-8 counts as
    // not JSON (RFC 8259 8.1) and is reported as such ahead of schema errors (SPEC order).
    const badByte = utf8ErrorOffset(raw);
    if (badByte !== -1) throw new LunaError(Errors.BadJson, `Request body is not valid UTF-8: bad byte sequence at byte offset ${badByte}`);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new LunaError(Errors.BadJson, `Failed to parse request body as JSON: ${(err as Error).message}`);
    }
    const invalid = validator.validate(body);
    if (invalid !== undefined) throw new LunaError(Errors.BadJsonSchema, invalid);

    const events = encodeBatch(account, raw, body as EventBatch, ex.requestId);
    const started = process.hrtime.bigint();
    try {
      // Keys are per account (SPEC 11): another account's identical key is another publish.
      await bus.publish(events, timeoutMs, idempotencyKey === undefined ? undefined : { idempotencyKey: `${account}:${idempotencyKey}` });
    } catch (err) {
      metrics.publishFailures++;
      if (err instanceof BusUnconfirmedError) {
        throw new LunaError(
          Errors.Unavailable,
          `Events were written but not confirmed by ${config.SENDER_REDIS_MIN_REPLICAS} replicas in time (${err.message}): the batch may still be delivered; a retry with the same Idempotency-Key is safe`,
        );
      }
      const reason = err instanceof BusUnavailableError ? err.message : 'bus error';
      if (!(err instanceof BusUnavailableError)) log.error({ request_id: ex.requestId, err }, 'bus publish failed');
      throw new LunaError(Errors.Unavailable, `Events were not published: ${reason}`);
    }
    metrics.observePublish(Number(process.hrtime.bigint() - started) / 1e9);
    metrics.publishRequests++;
    metrics.publishedEvents += events.length;
    ex.json(201, { published: events.length });
  };
  for (const p of paths) addRoute(table, 'POST', p, handle);
}
