import { type ConfigKey, defaultOf } from '../config/schema.js';
import { closeCodeTable } from '../doc-tables.js';
import { AbnormalClosure, CloseCodes, Errors } from '../errors.js';
import { FIELDS } from '../filters/fields.js';
import { TOKEN_RE } from '../history/token.js';
import { HEALTH_TIMEOUT_MS } from '../http/health.js';
import { filterParameter, UUID_PATTERN } from './parameters.js';
import { ACCOUNT_ERRORS, API_PREFIX_ERRORS, AUTH_ERRORS, COMMON_ERRORS, errorResponses, ok, TOKEN_SECURITY } from './responses.js';
import { type Json, ref } from './schema.js';

/** A limit named by its key with the schema's default: the number is never written here. */
const limit = (key: ConfigKey): string => `${key} (default ${defaultOf(key)})`;

/** A response object with one more header beside those it documents already. */
function withHeader(response: Json, name: string, header: Json): Json {
  return { ...response, headers: { ...(response.headers as Json), [name]: header } };
}

/** The operations of SPEC section 2, one per resource (plus the page /docs/dev redirects to). */
export function buildPaths(maxListItems: number): Json {
  const common = [{ $ref: '#/components/parameters/LunaRequestId' }];
  const api = [{ $ref: '#/components/parameters/Api' }];
  const json = (schema: Json) => ({ 'application/json': { schema } });

  return {
    '/version': {
      get: {
        operationId: 'getVersion',
        tags: ['info'],
        summary: 'Versions of the service',
        description: 'Numbers from package.json; `api` is the newest API generation served.',
        parameters: common,
        responses: { '200': ok('Versions.', json(ref('Version'))), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/{api}/ws': {
      get: {
        operationId: 'subscribe',
        tags: ['events'],
        summary: 'Subscribe to events (WebSocket)',
        security: TOKEN_SECURITY,
        description:
          'A WebSocket upgrade. Headers and every query parameter are validated before the upgrade: a bad one gets an ' +
          'ordinary HTTP error response, never a 101. An unknown parameter, a parameter given twice and an empty value are ' +
          'errors (12012). Omitted parameters do not restrict; all given ones must hold. Lists are comma-separated, items ' +
          `trimmed, duplicates ignored, at most ${maxListItems} items. An event that lacks the field a filter tests does ` +
          'not pass it. After the 101 the server sends one text frame per matching event (schema EventMessage); client ' +
          `frames are ignored (a message over ${limit('SENDER_MAX_INBOUND_FRAME')} bytes, fragments included, makes uWS cut the connection: ${AbnormalClosure.code}); ` +
          `a socket whose unsent data passes ${limit('SENDER_MAX_BACKPRESSURE')} bytes is closed with ${CloseCodes.SlowConsumer.code}; ` +
          `one silent for ${limit('SENDER_PING_INTERVAL')} seconds is pinged; shutdown closes with ${CloseCodes.GoingAway.code}; ` +
          `with SENDER_AUTH=jwt a socket is closed with ${CloseCodes.TokenExpired.code} when its token's exp plus SENDER_AUTH_LEEWAY passes. ` +
          'A browser carries its token in the subprotocol list (`luna-sender`, `bearer.<token>`); the 101 then answers `Sec-WebSocket-Protocol: luna-sender`.\n\n' +
          `Close codes a client can see:\n\n${closeCodeTable()}`,
        parameters: [
          ...api,
          ...common,
          {
            name: 'Luna-Account-Id',
            in: 'header',
            required: false,
            description:
              "Account whose events to receive. Required, here or as the `luna_account_id` query parameter; the header wins when both are valid. With SENDER_AUTH=jwt optional: the token's account is the account, and one given here must be the same (else 403).",
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
          {
            name: 'luna_account_id',
            in: 'query',
            required: false,
            description: 'The account, for clients that cannot set headers (browsers). Validated even when the header is present.',
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
          {
            name: 'positions',
            in: 'query',
            required: false,
            description:
              'With `1`, every frame gains one last key after `Luna-Request-id`: `"position": "<token>"`, the event\'s position (SPEC 9). Without it frames are unchanged.',
            schema: { type: 'string', enum: ['1'] },
          },
          {
            name: 'resume',
            in: 'query',
            required: false,
            description:
              "A position token (from `Luna-Stream-Position` or a frame's `position`): first every event after it that this account and filter would have received, " +
              `in stream order, then live ones, with no gap and no duplicate; implies positions=1. Checked after every other parameter. A position that cannot be replayed in full (epoch changed, older than ${limit('SENDER_RESUME_WINDOW')} seconds or trimmed, ahead of the stream) is refused with 410.`,
            schema: { type: 'string', pattern: TOKEN_RE.source },
          },
          ...FIELDS.map((f) => filterParameter(f, maxListItems)),
        ],
        responses: {
          '101': withHeader(
            ok(
              'Switching Protocols. Then one WebSocket text frame per matching event, each an EventMessage; the event is delivered byte-for-byte as published.',
              json(ref('EventMessage')),
            ),
            'Luna-Stream-Position',
            {
              description:
                'The position this subscription starts after (`<epoch>:<id>`): every matching event after it is delivered and none at or before it; for a resumed subscription, the resume position.',
              schema: { type: 'string', pattern: TOKEN_RE.source },
            },
          ),
          ...errorResponses([
            ...COMMON_ERRORS,
            ...AUTH_ERRORS('view'),
            ...ACCOUNT_ERRORS('subscribe for'),
            [
              Errors.BadQueryOrHeader,
              'bad query parameter: unknown, repeated, empty, outside its enum or range, or an impossible range; the detail names it and what is allowed',
            ],
            ...API_PREFIX_ERRORS,
            [
              Errors.UpgradeRequired,
              'a plain GET without a WebSocket upgrade (detail: websocket upgrade required). A plain GET is validated like the upgrade first, so a bad one gets the error the upgrade would get (what the console uses: a browser WebSocket cannot read it)',
            ],
            [
              Errors.TooManyConnections,
              `this worker holds ${limit('SENDER_MAX_CONNECTIONS')} connections, or the account holds ${limit('SENDER_MAX_CONNECTIONS_PER_ACCOUNT')} on this worker`,
            ],
            [Errors.CannotResume, '`resume` cannot be replayed in full: epoch changed, position no longer retained, or position ahead of the stream'],
            [Errors.Unavailable, '`resume` needed the bus (a position older than this worker holds, or ahead of it) and the bus did not answer'],
          ]),
        },
      },
    },
    '/{api}/publish': {
      post: {
        operationId: 'publish',
        tags: ['events'],
        summary: 'Publish user-generated events',
        security: TOKEN_SECURITY,
        description:
          "Answered only after the whole batch is durably in the bus. Each delivered message carries this request's " +
          '`Luna-Request-Id`; events of one request are delivered in list order. If the bus cannot take the batch, nothing of it is delivered (503).',
        parameters: [
          ...api,
          ...common,
          {
            name: 'Luna-Account-Id',
            in: 'header',
            required: true,
            description:
              "Account the events belong to; only its subscribers receive them. With SENDER_AUTH=jwt optional: the token's account is the account, and one given here must be the same (else 403).",
            schema: { type: 'string', format: 'uuid', pattern: UUID_PATTERN },
          },
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: `A repeat of this key for the same account within ${limit('SENDER_IDEMPOTENCY_TTL')} seconds appends nothing and is answered 201 like the first; a malformed key is an error 12012.`,
            schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
          },
        ],
        requestBody: { required: true, content: json(ref('PublishRequest')) },
        responses: {
          '201': ok('Published: the number of events appended to the bus.', json(ref('PublishResponse'))),
          ...errorResponses([
            ...COMMON_ERRORS,
            [
              Errors.BadJsonSchema,
              `the body fails the schema, e.g. more than ${limit('SENDER_MAX_EVENTS_PER_PUBLISH')} events (detail like Failed to validate input json. Path: 'handler_id', message: 'field required')`,
            ],
            [Errors.BadJson, 'the body is not JSON'],
            [Errors.BadContentType, 'Content-Type is not application/json'],
            [Errors.EmptyBody, 'empty body'],
            ...AUTH_ERRORS('creation'),
            ...ACCOUNT_ERRORS('publish'),
            ...API_PREFIX_ERRORS,
            [Errors.BodyTooLarge, `body over ${limit('SENDER_MAX_BODY_BYTES')} bytes; the body is read and discarded, then the connection closes`],
            [
              Errors.Unavailable,
              `the bus cannot take the publish now (Redis down or slower than ${limit('SENDER_REDIS_TIMEOUT')} seconds); nothing was published. ` +
                `Or, with ${limit('SENDER_REDIS_MIN_REPLICAS')} above 0, the batch was written but too few replicas confirmed it in time: it may still be delivered, and a retry with the same Idempotency-Key is safe (the detail says which)`,
            ],
          ]),
        },
      },
    },
    '/docs/spec': {
      get: {
        operationId: 'getSpec',
        tags: ['docs'],
        summary: 'This OpenAPI document',
        description:
          'Negotiated on Accept (q-values honoured): `application/x-yaml` (synonyms `application/yaml`, `text/yaml`) gives YAML, ' +
          '`text/html` a readable page, `application/json` JSON. No Accept header or `*/*` gives YAML.',
        parameters: common,
        responses: {
          '200': ok('The document.', {
            'application/x-yaml': { schema: { type: 'string' } },
            'text/html': { schema: { type: 'string' } },
            'application/json': { schema: { type: 'object' } },
          }),
          ...errorResponses([...COMMON_ERRORS, [Errors.UnsupportedMediaType, 'Accept allows none of the offered types (a malformed Accept allows none)']]),
        },
      },
    },
    '/docs/dev': {
      get: {
        operationId: 'getDevManual',
        tags: ['docs'],
        summary: 'Development manual (redirect)',
        description: '`/docs/dev/` (with the trailing slash) redirects the same way.',
        parameters: common,
        responses: {
          '302': ok('Redirect to the manual.', undefined, {
            Location: { description: 'Always `/docs/dev/index.html`.', schema: { type: 'string', enum: ['/docs/dev/index.html'] } },
          }),
          ...errorResponses(COMMON_ERRORS),
        },
      },
    },
    '/docs/dev/index.html': {
      get: {
        operationId: 'getDevManualIndex',
        tags: ['docs'],
        summary: 'Development manual',
        description: 'Architecture, project layout, build/test/benchmark, filters, bus and plugins, as one HTML page.',
        parameters: common,
        responses: { '200': ok('The manual.', { 'text/html': { schema: { type: 'string' } } }), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/console': {
      get: {
        operationId: 'getConsole',
        tags: ['docs'],
        summary: 'Live console (HTML)',
        description:
          'One self-contained page (inline CSS and JavaScript, nothing fetched from elsewhere): subscribe with an account, a token and ' +
          'filters from a form generated from the filter vocabulary, watch the matching events (count, rate, the latest pretty-printed), ' +
          'reconnect and resume from the last position; and the host figures from `/metrics`. The page checks a subscription with a plain ' +
          '`GET /{api}/ws` first and shows its error detail word for word.',
        parameters: common,
        responses: { '200': ok('The page.', { 'text/html': { schema: { type: 'string' } } }), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/console/client.js': {
      get: {
        operationId: 'getConsoleClient',
        tags: ['docs'],
        summary: 'The subscriber client as a browser ES module',
        description: '`LunaSenderClient` (reconnect with backoff, resume from the last position), the module the console imports; usable by any page.',
        parameters: common,
        responses: { '200': ok('The module.', { 'text/javascript': { schema: { type: 'string' } } }), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/config': {
      get: {
        operationId: 'getConfig',
        tags: ['info'],
        summary: 'Effective configuration',
        description:
          'Every password, token or secret (also inside a Redis URL) is shown as `********`. `Accept: text/plain` gives ' +
          '`KEY = value` lines (nested keys joined with dots); no Accept header gives JSON.',
        parameters: common,
        responses: {
          '200': ok('The configuration.', {
            'application/json': { schema: { type: 'object', additionalProperties: true } },
            'text/plain': { schema: { type: 'string' } },
          }),
          ...errorResponses([...COMMON_ERRORS, [Errors.UnsupportedMediaType, 'Accept allows neither application/json nor text/plain']]),
        },
      },
    },
    '/plugins': {
      get: {
        operationId: 'getPlugins',
        tags: ['info'],
        summary: 'Loaded plugins',
        description: '`running` is 0 for a plugin that failed to load or whose hook threw.',
        parameters: common,
        responses: { '200': ok('The plugins.', json(ref('Plugins'))), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/healthcheck': {
      get: {
        operationId: 'getHealth',
        tags: ['info'],
        summary: 'Health of the service',
        description: `PINGs Redis when Redis is the bus, within ${limit('SENDER_REDIS_TIMEOUT')} seconds but at most ${HEALTH_TIMEOUT_MS} ms, so the answer comes within 1 s whatever Redis does.`,
        parameters: common,
        responses: {
          '200': ok('Healthy.', json(ref('Health'))),
          ...errorResponses([
            ...COMMON_ERRORS,
            [Errors.Unavailable, 'a check failed (answered with HTTP 502); the detail names what failed (redis: connection refused)', 502],
          ]),
        },
      },
    },
    '/health/live': {
      get: {
        operationId: 'getLive',
        tags: ['info'],
        summary: 'Liveness (for orchestrators)',
        description: "200 while the worker's event loop runs; it checks nothing else, so a Redis outage never restarts workers.",
        parameters: common,
        responses: { '200': ok('The event loop runs.', json(ref('Live'))), ...errorResponses(COMMON_ERRORS) },
      },
    },
    '/health/ready': {
      get: {
        operationId: 'getReady',
        tags: ['info'],
        summary: 'Readiness (for orchestrators and load balancers)',
        description:
          `200 when the worker accepts subscribers and its bus answers (a PING within ${HEALTH_TIMEOUT_MS} ms on Redis; concurrent probes share one). ` +
          'A worker listens only once its bus reads, so `starting` is seen as a refused connection; from shutdown on (SIGTERM) it answers 503 until it is gone.',
        parameters: common,
        responses: {
          '200': ok('Ready.', json(ref('Ready'))),
          ...errorResponses([
            ...COMMON_ERRORS,
            [Errors.Unavailable, 'not ready: the detail says why (worker draining for shutdown; redis: timeout after 500ms; redis: connection refused)'],
          ]),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'getMetrics',
        tags: ['info'],
        summary: 'Prometheus metrics of the whole host',
        description:
          'The figures of every worker serving the port on this host, whichever worker answers (counters and histograms summed, gauges summed or the largest, per metric): ' +
          'connections, closes by code, deliveries and bytes sent, delivery and publish latency, HTTP requests by route and status, stream lag and gaps, workers by state, ' +
          'and per worker (label `worker`) process CPU, memory and event-loop delay. The answering worker names itself in the `Luna-Sender-Worker` header. See the README, Metrics and health.',
        parameters: common,
        responses: {
          '200': withHeader(ok('Prometheus text exposition format 0.0.4.', { 'text/plain': { schema: { type: 'string' } } }), 'Luna-Sender-Worker', {
            description: 'The pid of the worker that answered.',
            schema: { type: 'integer' },
          }),
          ...errorResponses(COMMON_ERRORS),
        },
      },
    },
  };
}
