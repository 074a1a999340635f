import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';

/**
 * LUNA (pydantic-style) wording of a schema failure:
 *   Failed to validate input json. Path: 'handler_id', message: 'field required'
 * Only the first error is reported, as the reference service does.
 */
function message(e: ValueError): string {
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'field required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'extra fields not permitted';
    case ValueErrorType.String:
      return 'str type expected';
    case ValueErrorType.Array:
      return 'value is not a valid list';
    case ValueErrorType.Object:
      return 'value is not a valid dict';
    case ValueErrorType.ArrayMinItems:
      return `ensure this value has at least ${e.schema.minItems} items`;
    case ValueErrorType.ArrayMaxItems:
      return `ensure this value has at most ${e.schema.maxItems} items`;
    default:
      return e.message;
  }
}

function path(e: ValueError): string {
  // TypeBox gives JSON pointers (/events/0); LUNA shows dotted paths (events.0). The root is ''.
  const p = e.path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    // TypeBox points at the object; name the offending key instead.
    const value = e.value as Record<string, unknown>;
    const known = Object.keys((e.schema as { properties?: object }).properties ?? {});
    const extra = Object.keys(value ?? {}).find((k) => !known.includes(k));
    if (extra !== undefined) p.push(extra);
  }
  return p.join('.');
}

export class BodyValidator {
  private readonly check: TypeCheck<TSchema>;
  constructor(schema: TSchema) {
    this.check = TypeCompiler.Compile(schema);
  }
  /** undefined when valid, else the 11027 detail. */
  validate(value: unknown): string | undefined {
    if (this.check.Check(value)) return undefined;
    const first = this.check.Errors(value).First();
    if (first === undefined) return 'Failed to validate input json.';
    return `Failed to validate input json. Path: '${path(first)}', message: '${message(first)}'`;
  }
}
