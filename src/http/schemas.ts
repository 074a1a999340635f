import { type TSchema, Type } from '@sinclair/typebox';

/**
 * Request and response schemas. The same objects validate requests (TypeCompiler) and generate the
 * OpenAPI document (src/openapi/), so the two cannot drift.
 */
export function publishBodySchema(maxEvents: number) {
  return Type.Object(
    {
      events: Type.Array(Type.Object({}, { additionalProperties: true, description: 'An event object, delivered byte-for-byte.' }), {
        minItems: 1,
        maxItems: maxEvents,
        description: 'User generated events to be published.',
      }),
      handler_id: Type.String({ description: 'Event handler ID.' }),
      event_create_time: Type.String({ description: 'Event creation time.' }),
      event_end_time: Type.String({ description: 'Event end time.' }),
    },
    { additionalProperties: false },
  );
}

export const PublishResponseSchema = Type.Object({ published: Type.Integer({ minimum: 1 }) });

export const ErrorSchema = Type.Object(
  {
    error_code: Type.Integer({ description: 'LUNA error code' }),
    desc: Type.String({ description: 'Short description of the code' }),
    detail: Type.String({ description: 'What exactly went wrong' }),
  },
  { additionalProperties: false },
);

export const VersionSchema = Type.Object({
  Version: Type.Object({ api: Type.Integer(), major: Type.Integer(), minor: Type.Integer(), patch: Type.Integer() }),
});

export const HealthSchema = Type.Object({ execution_time: Type.Number({ description: 'Seconds the checks took' }) });

export const LiveSchema = Type.Object({ live: Type.Literal(true) });

export const ReadySchema = Type.Object({ ready: Type.Literal(true) });

export const PluginsSchema = Type.Object({
  plugins: Type.Array(Type.Object({ name: Type.String(), running: Type.Union([Type.Literal(0), Type.Literal(1)]) })),
});

/** The WebSocket message: what every subscriber receives, one text frame per event. */
export const EventMessageSchema = Type.Object({
  event: Type.Object({}, { additionalProperties: true }),
  handler_id: Type.String(),
  'event-create-time': Type.String(),
  'event-end-time': Type.String(),
  'Luna-Request-id': Type.String(),
});

export type Schema = TSchema;
