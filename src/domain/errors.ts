// Typed errors of the domain. Messages are translation keys with parameters, never prose:
// the web layer and the CLI translate them for the reader.

export interface Message {
  key: string;
  params?: Record<string, string | number>;
}

export abstract class DomainError extends Error {
  abstract readonly status: number;
  constructor(
    readonly messageKey: string,
    readonly params: Record<string, string | number> = {},
  ) {
    super(messageKey);
  }
}

export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  readonly status = 404;
  constructor(key = 'errors.notFound', params: Record<string, string | number> = {}) {
    super(key, params);
  }
}

export class ForbiddenError extends DomainError {
  override name = 'ForbiddenError';
  readonly status = 403;
}

export class ConflictError extends DomainError {
  override name = 'ConflictError';
  readonly status = 409;
}

export class RateLimitedError extends DomainError {
  override name = 'RateLimitedError';
  readonly status = 429;
  constructor(readonly retryAfterSeconds: number) {
    super('errors.rateLimited', { minutes: Math.max(1, Math.ceil(retryAfterSeconds / 60)) });
  }
}

/** Field errors of a form or a command: field name → message. */
export class ValidationError extends DomainError {
  override name = 'ValidationError';
  readonly status = 422;
  constructor(readonly fields: Record<string, Message>) {
    const first = Object.values(fields)[0];
    super(first?.key ?? 'errors.invalid', first?.params ?? {});
  }
}

/** Something about the request itself is wrong (e.g. a token), shown as a message on the page. */
export class BadRequestError extends DomainError {
  override name = 'BadRequestError';
  readonly status = 400;
}
