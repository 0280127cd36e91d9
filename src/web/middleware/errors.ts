import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { TFunction } from 'i18next';
import { DomainError, NotFoundError, RateLimitedError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  type?: string;
  code?: string;
}

/** Maps body-parser, CSRF and domain errors to a status and a message key; anything else is a 500. */
function classify(error: unknown): { status: number; key: string; params: Record<string, string | number> } {
  if (error instanceof DomainError) return { status: error.status, key: error.messageKey, params: error.params };
  const http = (error ?? {}) as HttpLikeError;
  const status = http.status ?? http.statusCode;
  if (http.code === 'EBADCSRFTOKEN' || (status === 403 && /csrf/i.test(String((error as Error)?.message)))) {
    return { status: 403, key: 'errors.csrf', params: {} };
  }
  if (http.type === 'entity.too.large') return { status: 413, key: 'errors.tooLarge', params: {} };
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, key: 'errors.badRequest', params: {} };
  return { status: 500, key: 'errors.internal', params: {} };
}

export const notFound: RequestHandler = (_req, _res, next) => next(new NotFoundError());

/**
 * The error page, also for an error raised before the middleware that sets up the page's locals
 * (a session store that fails, say): then it is in the default language, without session details.
 */
export function errorHandler(logger: Logger, fallbackT: TFunction): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const { status, key, params } = classify(error);
    if (status >= 500) logger.error({ err: error, method: req.method }, 'request failed');
    if (error instanceof RateLimitedError) res.set('Retry-After', String(error.retryAfterSeconds));
    res.status(status);
    res.set('Cache-Control', 'no-store');
    if (!res.locals.t) {
      Object.assign(res.locals, { t: fallbackT, language: 'en', htmlLang: 'en', currentPath: req.path, returnPath: req.path, flash: [] });
      // Without a session there is no CSRF token to give; the page's forms then fail safely.
      res.locals.csrfToken ??= () => '';
    }
    const t = res.locals.t as TFunction;
    res.render('error', { title: t(`errors.title.${status >= 500 ? 500 : status}`, { defaultValue: t('errors.title.default') }), message: t(key, params), status });
  };
}
