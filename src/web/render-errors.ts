import type { Response } from 'express';
import { RateLimitedError, ValidationError } from '../domain/errors.js';

/** Translates a ValidationError's field messages for the form being re-rendered. */
export function fieldErrors(res: Response, error: ValidationError): Record<string, string> {
  const t = res.locals.t as (key: string, params?: Record<string, unknown>) => string;
  return Object.fromEntries(
    Object.entries(error.fields).map(([field, message]) => {
      const params: Record<string, unknown> = { ...(message.params ?? {}) };
      if (typeof params.role === 'string') params.role = t(`roles.${params.role}`);
      if (typeof params.state === 'string') params.state = t(`states.${params.state}`);
      return [field, t(message.key, params)];
    }),
  );
}

/**
 * Runs a form action; on a ValidationError re-renders the form with 422 and the user's input, and
 * on a RateLimitedError with 429, Retry-After and the wait as the form's error, the input kept too.
 * The re-render is awaited: it may read the database again, and a failure there goes to the error
 * handler like any other instead of rejecting unhandled (which ends the process).
 */
export async function withFormErrors(
  res: Response,
  action: () => Promise<void>,
  rerender: (errors: Record<string, string>) => void | Promise<void>,
): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (error instanceof RateLimitedError) {
      res.status(429).set('Retry-After', String(error.retryAfterSeconds));
      const t = res.locals.t as (key: string, params?: Record<string, unknown>) => string;
      try {
        await rerender({ form: t(error.messageKey, error.params) });
      } catch (failure) {
        // The error page that follows is about something else.
        res.removeHeader('Retry-After');
        throw failure;
      }
      return;
    }
    if (!(error instanceof ValidationError)) throw error;
    res.status(422);
    await rerender(fieldErrors(res, error));
  }
}
