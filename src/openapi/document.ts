import { defaultOf } from '../config/schema.js';
import { errorTable } from '../doc-tables.js';
import { REQUEST_ID_RE } from '../events/index.js';
import {
  ErrorSchema,
  EventMessageSchema,
  HealthSchema,
  LiveSchema,
  PluginsSchema,
  PublishResponseSchema,
  publishBodySchema,
  ReadySchema,
  VersionSchema,
} from '../http/schemas.js';
import { API_PREFIXES, PACKAGE_VERSION } from '../version.js';
import { buildPaths } from './paths.js';
import { GLOBAL_ERRORS } from './responses.js';
import { schemaOf } from './schema.js';

/**
 * The OpenAPI 3.0.3 document of SPEC section 2, served by GET /docs/spec. Built once per worker at
 * start-up: nothing here is on a request path.
 */

const DESCRIPTION = `Real-time event gateway for camera networks, compatible with the VisionLabs LUNA Sender API.

Every response carries \`Luna-Request-Id\`: the request's own when valid, else a new \`{unix seconds},{uuid4}\`.
\`{api}\` is 1 or 2; both behave identically. Error bodies are \`{"error_code": int, "desc": str, "detail": str}\`;
when several things are wrong the first of these is reported: \`Luna-Request-Id\`, the token (SENDER_AUTH=jwt),
the account and permission, the query parameters in the order given, the body, \`resume\`.

Error codes:

${errorTable()}

${GLOBAL_ERRORS.map(([d, when]) => `Error ${d.code} (HTTP ${d.status}, ${d.desc}) on any resource: ${when}.`).join('\n')}`;

export interface OpenApiOptions {
  /** SENDER_MAX_EVENTS_PER_PUBLISH: the publish body schema depends on it. */
  maxEvents: number;
  /** SENDER_MAX_LIST_ITEMS: the most items of one list filter (default: the schema's, as SPEC section 4). */
  maxListItems?: number;
}

/** Operations that declare no security need none, in either auth mode: said explicitly (`[]`). */
function withOpenSecurity(paths: Record<string, unknown>): Record<string, unknown> {
  for (const item of Object.values(paths) as Record<string, Record<string, unknown>>[]) {
    for (const op of Object.values(item)) op.security ??= [];
  }
  return paths;
}

export function buildOpenApi(opts: OpenApiOptions): object {
  const maxListItems = opts.maxListItems ?? defaultOf('SENDER_MAX_LIST_ITEMS');
  return {
    openapi: '3.0.3',
    info: { title: 'luna-sender', version: PACKAGE_VERSION, description: DESCRIPTION, license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' } },
    tags: [
      { name: 'events', description: 'Subscribing and publishing.' },
      { name: 'info', description: 'Service information.' },
      { name: 'docs', description: 'Documentation.' },
    ],
    // Relative: the document describes whichever gateway serves it (HTTP or, with TLS, HTTPS).
    servers: [{ url: '/', description: 'The gateway that serves this document.' }],
    paths: withOpenSecurity(buildPaths(maxListItems)),
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'Only with SENDER_AUTH=jwt (SPEC 10): a JSON Web Token in `Authorization: Bearer <token>`. A browser WebSocket, which cannot set headers, ' +
            'offers the two subprotocols `luna-sender` and `bearer.<token>` instead (answered `Sec-WebSocket-Protocol: luna-sender`); the last resort is ' +
            'the `access_token` query parameter. Claims: `exp` (required), `nbf`, `iat`, `aud`/`iss` when configured, `account_id` (UUID, the account), ' +
            '`permissions` `{"event": ["view", "creation"]}`, optional `filter` in the /ws query syntax, ANDed with the subscriber\'s own filter.',
        },
        accessToken: {
          type: 'apiKey',
          in: 'query',
          name: 'access_token',
          description:
            'Only with SENDER_AUTH=jwt: the same token as a query parameter, for clients that can set neither headers nor subprotocols. Never logged.',
        },
      },
      schemas: {
        PublishRequest: schemaOf(publishBodySchema(opts.maxEvents)),
        PublishResponse: schemaOf(PublishResponseSchema),
        EventMessage: schemaOf(EventMessageSchema),
        Error: schemaOf(ErrorSchema),
        Version: schemaOf(VersionSchema),
        Health: schemaOf(HealthSchema),
        Live: schemaOf(LiveSchema),
        Ready: schemaOf(ReadySchema),
        Plugins: schemaOf(PluginsSchema),
      },
      parameters: {
        Api: {
          name: 'api',
          in: 'path',
          required: true,
          description: 'API generation; both are served with identical behaviour. Any other value is a 404 (12013).',
          schema: { type: 'integer', enum: API_PREFIXES.map(Number) },
        },
        LunaRequestId: {
          name: 'Luna-Request-Id',
          in: 'header',
          required: false,
          description: 'External request id, `{unix seconds},{uuid4}`; returned in the response and in every log line of the request. Malformed: 400 (12012).',
          schema: { type: 'string', pattern: REQUEST_ID_RE.source },
          example: '1536751345,8b8b5937-2e9c-4e8b-a7a7-5caf86621b5a',
        },
      },
      headers: {
        LunaRequestId: {
          description: "The request's own id when it sent a valid one, else a new one.",
          schema: { type: 'string', pattern: REQUEST_ID_RE.source },
        },
      },
    },
  };
}
