import type { Request, RequestHandler, Response } from 'express';
import { formatDateTime } from '../../i18n/dates.js';
import type { FlashMessage } from '../types.js';

export function flash(req: Request, message: FlashMessage): void {
  req.session.flash = [...(req.session.flash ?? []), message];
}

/** Per-request view data: CSRF token, flash messages (read once), the current path, formatters. */
export function viewLocals(generateCsrfToken: (req: Request) => string): RequestHandler {
  return (req, res, next) => {
    res.locals.csrfToken = () => generateCsrfToken(req);
    res.locals.currentPath = req.path;
    res.locals.user ??= req.account;
    // Flash messages are taken out of the session only when a page actually shows them, so a
    // JSON fetch or a stray request in between cannot swallow them.
    let shown: FlashMessage[] | undefined;
    Object.defineProperty(res.locals, 'flash', {
      enumerable: true,
      configurable: true,
      get() {
        if (shown === undefined) {
          shown = req.session?.flash ?? [];
          if (req.session?.flash) delete req.session.flash;
        }
        return shown;
      },
    });
    res.locals.formatDate = (epochMs: number | null | undefined) => formatDate(res, epochMs);
    next();
  };
}

export function formatDate(res: Response, epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '';
  return formatDateTime(res.locals.language === 'pt-PT' ? 'pt-PT' : 'en', Number(epochMs));
}

/** Logged-in pages and token pages must never be cached by browsers or proxies. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
