import type { Response } from 'express';
import { RateLimitedError, ValidationError } from '../domain/errors.js';

type Translate = (key: string, params?: Record<string, unknown>) => string;

/** Translates a ValidationError's field messages for the form being re-rendered. */
export function fieldErrors(res: Response, error: ValidationError): Record<string, string> {
  const t = res.locals.t as Translate;
  return Object.fromEntries(
    Object.entries(error.fields).map(([field, message]) => {
      const params: Record<string, unknown> = { ...(message.params ?? {}) };
      if (typeof params.role === 'string') params.role = t(`roles.${params.role}`);
      if (typeof params.state === 'string') params.state = t(`states.${params.state}`);
      return [field, t(message.key, params)];
    }),
  );
}

/** A form shown again because of a rate limit: 429, with when to try again; answers the wait as text. */
export function rateLimited(res: Response, error: RateLimitedError): string {
  res.status(429).set('Retry-After', String(error.retryAfterSeconds));
  return (res.locals.t as Translate)(error.messageKey, error.params);
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
      const wait = rateLimited(res, error);
      try {
        await rerender({ form: wait });
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
