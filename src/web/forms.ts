// Strict form schemas: unknown fields, repeated fields (arrays) and oversized values are refused
// with a 400 before any business validation runs.
import { z } from 'zod';
import { BadRequestError } from '../domain/errors.js';

// No NUL characters anywhere: PostgreSQL refuses them in text, and no person types one.
const text = (max: number) => z.string().max(max).regex(/^[^\0]*$/);
export const field = (max = 1000) => text(max);
export const optionalField = (max = 1000) => text(max).optional();

/**
 * A query-string or form schema, built once when the routes are made: building a zod object is
 * far more work than checking one, and the contacts page parses its query on every request.
 */
export function querySchema<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape).strict();
}

export function formSchema<S extends z.ZodRawShape>(shape: S) {
  return z.object({ ...shape, _csrf: z.string().max(512).optional() }).strict();
}

export function parseForm<S extends z.ZodRawShape>(shape: S | z.ZodObject<S>, body: unknown): z.infer<z.ZodObject<S>> {
  const schema = shape instanceof z.ZodObject ? shape : formSchema(shape);
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw new BadRequestError('errors.badRequest');
  const { _csrf: _ignored, ...rest } = result.data as Record<string, unknown>;
  return rest as z.infer<z.ZodObject<S>>;
}

export function parseQuery<S extends z.ZodRawShape>(shape: S | z.ZodObject<S>, query: unknown): z.infer<z.ZodObject<S>> {
  const schema = shape instanceof z.ZodObject ? shape : querySchema(shape);
  const result = schema.safeParse(query ?? {});
  if (!result.success) throw new BadRequestError('errors.badRequest');
  return result.data as z.infer<z.ZodObject<S>>;
}

/** Only a single-slash local path: no scheme, no protocol-relative `//host`, no backslashes. */
export function safeNextPath(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length > 2000) return undefined;
  if (!/^\/(?![/\\])[^\\\s\x00-\x1f\x7f]*$/.test(raw)) return undefined;
  return raw;
}
