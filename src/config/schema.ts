import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * The one configuration schema. Property names are the environment variable names (and the keys
 * of the optional SENDER_CONFIG JSON file). Every property has a default and a description; the
 * README's configuration table is generated from this object (src/doc-tables.ts) and a
 * test fails when it is stale. `secret: true` marks values that /config masks.
 */
/** One SENDER_ALLOWED_ORIGINS item: `*` or scheme://host[:port]. */
const ORIGIN_ITEM = '(\\*|[A-Za-z][A-Za-z0-9+.-]*://[^\\s/?#@,:]+(:[0-9]{1,5})?)';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = Type.Object(
  {
    SENDER_HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'Listen address.' }),
    SENDER_PORT: Type.Integer({
      default: 5080,
      minimum: 0,
      maximum: 65535,
      description: 'Listen port; 0 picks a free port (printed in the start-up log line).',
    }),
    REDIS_URL: Type.String({
      default: '',
      pattern: '^(|rediss?://.+)$',
      secret: true,
      description: '`redis://[user:password@]host:port[/db]`. Empty: the in-process bus, one process. The password is masked in /config.',
    }),
    REDIS_SENTINELS: Type.String({
      default: '',
      pattern: '^(|[^,:\\s]+:[0-9]{1,5}(,[^,:\\s]+:[0-9]{1,5})*)$',
      description:
        'Comma-separated `host:port` list of Redis Sentinels; when set, the master named REDIS_SENTINEL_NAME is used (REDIS_URL then only supplies password and db).',
    }),
    REDIS_SENTINEL_NAME: Type.String({ default: 'mymaster', minLength: 1, description: 'Master name asked of the Sentinels.' }),
    REDIS_SENTINEL_PASSWORD: Type.String({ default: '', secret: true, description: 'Password of the Sentinels themselves (masked in /config).' }),
    SENDER_WORKERS: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 256,
      description: 'Worker processes; 0 means one per CPU with Redis, and always 1 on the in-process bus.',
    }),
    SENDER_STREAM_KEY: Type.String({ default: 'luna-sender:events', minLength: 1, description: 'The Redis stream every worker reads.' }),
    SENDER_STREAM_MAXLEN: Type.Integer({ default: 100000, minimum: 1, description: 'Approximate cap of the stream (`XADD MAXLEN ~`).' }),
    SENDER_LUNA_CHANNEL_PREFIX: Type.String({
      default: 'luna-sender',
      minLength: 1,
      description: 'LUNA Handlers pub/sub channels are `{prefix}:{account_id}`.',
    }),
    SENDER_MAX_BACKPRESSURE: Type.Integer({
      default: 16777216,
      minimum: 1024,
      description: 'Bytes buffered for one socket before it is closed with 4008 `slow consumer`.',
    }),
    SENDER_MAX_BODY_BYTES: Type.Integer({ default: 16777216, minimum: 1024, description: 'Largest publish body in bytes (413, error 12040, past it).' }),
    SENDER_MAX_EVENTS_PER_PUBLISH: Type.Integer({ default: 1000, minimum: 1, description: 'Largest `events` list of one publish.' }),
    SENDER_MAX_CONNECTIONS: Type.Integer({
      default: 100000,
      minimum: 1,
      description: 'WebSocket connections one worker holds; an upgrade past it gets 503 (error 29006).',
    }),
    SENDER_MAX_QUERY_BYTES: Type.Integer({ default: 8192, minimum: 256, description: 'Longest `/ws` query string in bytes (error 12012 past it).' }),
    SENDER_MAX_LIST_ITEMS: Type.Integer({ default: 100, minimum: 1, maximum: 10000, description: 'Most items one list filter may give.' }),
    SENDER_MAX_INBOUND_FRAME: Type.Integer({
      default: 16384,
      minimum: 125,
      description:
        'Largest client-to-server message (fragments counted together); a bigger one closes the connection at once (no close frame: the client sees 1006).',
    }),
    SENDER_PING_INTERVAL: Type.Integer({
      default: 30,
      minimum: 4,
      maximum: 480,
      description: 'Seconds of silence after which a socket is pinged; one that stays silent as long again is closed.',
    }),
    SENDER_RESUME_WINDOW: Type.Integer({
      default: 120,
      minimum: 1,
      maximum: 86400,
      description:
        'How far back a resume (`resume=`, SPEC 9) replays, in seconds: refused (410, 29010) when an event the subscriber missed (its account, its filter) is older; within it a resume succeeds unless the stream cap trimmed the entries. A quiet subscriber that missed nothing resumes however old its position.',
    }),
    SENDER_RESUME_HISTORY_BYTES: Type.Integer({
      default: 64 * 1024 * 1024,
      minimum: 0,
      description:
        'Bytes of recent events each worker keeps in memory for resuming subscribers (frames and facts, plus ~160 bytes per event); shared by all resumers. A resume older than what is held reads the rest from the Redis stream once.',
    }),
    SENDER_REDIS_TIMEOUT: Type.Number({
      default: 2,
      exclusiveMinimum: 0,
      maximum: 60,
      description: 'Seconds a Redis command may take before a publish fails with 503 and /healthcheck with 502.',
    }),
    SENDER_REDIS_MIN_REPLICAS: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 64,
      description:
        'Replicas that must hold a batch (`WAIT`, within SENDER_REDIS_TIMEOUT) before a publish is answered 201; fewer: 503 (29005), the batch may still be delivered, and a retry with the same `Idempotency-Key` is safe. Workers also deliver an entry only once that many replicas hold it (README: Idempotent publishing and replicas). 0: no WAIT, no hold.',
    }),
    SENDER_IDEMPOTENCY_TTL: Type.Number({
      default: 300,
      exclusiveMinimum: 0,
      maximum: 86400,
      description: 'Seconds during which a repeat of a publish `Idempotency-Key` for the same account appends nothing and is answered 201 like the first.',
    }),
    SENDER_ALLOWED_ORIGINS: Type.String({
      default: '*',
      // `*` or scheme://host[:port] items, as browsers send `Origin` (no path, no trailing slash).
      pattern: `^\\s*${ORIGIN_ITEM}(\\s*,\\s*${ORIGIN_ITEM})*\\s*$`,
      description:
        'Comma-separated origins (`https://app.example.com[:port]`) whose pages may open `/ws` and read HTTP answers (CORS); `*`: any. An upgrade or preflight with another `Origin` gets 403 (29001); requests without `Origin` are unaffected.',
    }),
    SENDER_TLS_CERT_FILE: Type.String({
      default: '',
      description: 'PEM certificate (chain) file; with SENDER_TLS_KEY_FILE the port serves HTTPS and WSS only. Empty: plain HTTP.',
    }),
    SENDER_TLS_KEY_FILE: Type.String({ default: '', description: 'PEM private key file of SENDER_TLS_CERT_FILE (both or neither).' }),
    SENDER_TLS_KEY_PASSPHRASE: Type.String({ default: '', secret: true, description: 'Passphrase of an encrypted SENDER_TLS_KEY_FILE (masked in /config).' }),
    SENDER_MAX_CONNECTIONS_PER_ACCOUNT: Type.Integer({
      default: 0,
      minimum: 0,
      description:
        'WebSocket connections one account may hold on one worker; an upgrade past it gets 503 (error 29006) naming the account limit. 0: no per-account limit. Both auth modes.',
    }),
    SENDER_AUTH: Type.Union([Type.Literal('none'), Type.Literal('jwt')], {
      default: 'none',
      description:
        '`none`: the LP5 behaviour, the account header is trusted (behind the LUNA API). `jwt`: every `/ws` upgrade and `/publish` needs a JSON Web Token (SPEC 10, README Security).',
    }),
    SENDER_AUTH_HMAC_SECRETS: Type.String({
      default: '',
      secret: true,
      description:
        'Comma-separated HMAC secrets (HS256, HS384, HS512), each at least 32 bytes; any of them verifies, so a new one is added before the old one is removed (rotation). Masked in /config.',
    }),
    SENDER_AUTH_PUBLIC_KEYS: Type.String({
      default: '',
      description:
        'Path of a PEM file with one or more public keys, or of a JWKS file (`{"keys":[...]}`): RSA (RS256, PS256), EC P-256 (ES256), Ed25519 (EdDSA). Read at start-up.',
    }),
    SENDER_AUTH_LEEWAY: Type.Integer({
      default: 30,
      minimum: 0,
      maximum: 600,
      description: 'Seconds of clock skew allowed on `exp`, `nbf` and `iat`; a socket is closed with 4001 once `exp` plus this has passed.',
    }),
    SENDER_AUTH_AUDIENCE: Type.String({ default: '', description: "When set, a token's `aud` must contain it." }),
    SENDER_AUTH_ISSUER: Type.String({ default: '', description: "When set, a token's `iss` must be it." }),
    SENDER_PLUGINS: Type.String({ default: '', description: 'Comma-separated plugin module paths (section Plugins).' }),
    SENDER_CONFIG: Type.String({ default: '', description: 'JSON file with any of these keys; the environment wins over it.' }),
    LOG_LEVEL: Type.Union(
      LOG_LEVELS.map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level.' },
    ),
  },
  { additionalProperties: false },
);

export type Config = Readonly<Static<typeof ConfigSchema>>;
export type ConfigKey = keyof Config;

/** The schema of one key, for the loader (string-to-type coercion) and the docs generator. */
export function keySchema(key: string): TSchema | undefined {
  return (ConfigSchema.properties as Record<string, TSchema>)[key];
}

/** A key's default: documents that state a limit (the OpenAPI text) take the number from here. */
export function defaultOf<K extends ConfigKey>(key: K): Config[K] {
  return (ConfigSchema.properties[key] as TSchema).default as Config[K];
}

export function isSecret(key: string): boolean {
  return keySchema(key)?.secret === true;
}
