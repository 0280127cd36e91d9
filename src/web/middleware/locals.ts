import type { Request, RequestHandler, Response } from 'express';
import { formatDateTime, intlLocaleOf } from '../../i18n/dates.js';
import type { Language } from '../../i18n/index.js';
import type { FlashMessage } from '../types.js';

export function flash(req: Request, message: FlashMessage): void {
  req.session.flash = [...(req.session.flash ?? []), message];
}

/** Stands in for a date while a flash message is translated; private-use characters no catalogue holds. */
const TIME_MARK = /\uE000([^\uE000]+)\uE000/;

export type FlashPart = { text: string } | { at: number };

/**
 * A flash message's text cut into text parts and dates: the view prints each date with the time
 * partial, so it is a `<time>` in the zone of whoever reads the message (the browser's, when the
 * reader chose none) like every other date on the page.
 */
export function flashParts(t: (key: string, params?: Record<string, unknown>) => string, message: FlashMessage): FlashPart[] {
  const times = message.times ?? {};
  const marks = Object.fromEntries(Object.keys(times).map((name) => [name, `\uE000${name}\uE000`]));
  const pieces = t(message.key, { ...message.params, ...marks }).split(TIME_MARK);
  // split() with a capture group: text, name, text, name, …, text.
  return pieces.flatMap((piece, i): FlashPart[] => {
    if (i % 2 === 0) return piece ? [{ text: piece }] : [];
    // A parameter's own text that looks like a mark (an address may hold any character), but
    // names none of this message's dates, stays text: "constructor" is no date either.
    const at = Object.hasOwn(times, piece) ? times[piece] : undefined;
    return typeof at === 'number' ? [{ at }] : [{ text: `\uE000${piece}\uE000` }];
  });
}

/** The longest way back the language switcher carries; a longer one is left out. */
export const MAX_RETURN_PATH = 1000;

/**
 * Where the language switcher leads back to: this page with its query (a search, a confirmation
 * link's code), or, for a form's POST shown again after an error, the page that shows that form (a
 * redirect there is a GET, which the POST's own path may not answer).
 */
export function returnPathOf(req: Request): string {
  if (req.method === 'GET' || req.method === 'HEAD') return req.originalUrl.length <= MAX_RETURN_PATH ? req.originalUrl : req.path;
  const contacts = /^\/services\/([^/]+)\/contacts$/.exec(req.path);
  if (contacts) return `/services/${contacts[1]}/contacts/edit`;
  const request = /^\/requests\/([^/]+)\/(?:resend|cancel)$/.exec(req.path);
  if (request) return `/requests/${request[1]}`;
  if (req.path.startsWith('/profile/')) return '/profile';
  return req.path;
}

/** Per-request view data: CSRF token, flash messages (read once), the current path, formatters. */
export function viewLocals(generateCsrfToken: (req: Request) => string, defaultTimeZone: string): RequestHandler {
  return (req, res, next) => {
    res.locals.csrfToken = () => generateCsrfToken(req);
    res.locals.currentPath = req.path;
    res.locals.returnPath = returnPathOf(req);
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
    useReaderTimeZone(res, req.account?.timeZone ?? null, defaultTimeZone);
    next();
  };
}

/**
 * Dates on this response: in the account's own zone when it chose one, else in the installation's
 * default, which the browser replaces with its own zone (see `timeOf`). Sets the view helpers
 * `formatDate` (text) and `timeOf` (what views/partials/time.ejs prints).
 */
export function useReaderTimeZone(res: Response, chosen: string | null, defaultTimeZone: string): void {
  if (!defaultTimeZone) throw new Error('no default time zone for this response');
  res.locals.timeZone = chosen ?? defaultTimeZone;
  res.locals.timeZoneChosen = chosen !== null;
  res.locals.formatDate = (epochMs: number | null | undefined) => formatDate(res, epochMs);
  res.locals.timeOf = (epochMs: number | null | undefined) => timeOf(res, epochMs);
}

function languageOf(res: Response): Language {
  return res.locals.language === 'pt-PT' ? 'pt-PT' : 'en';
}

/** A date as text, in the reader's language and zone (with the zone's short name). */
export function formatDate(res: Response, epochMs: number | null | undefined): string {
  if (epochMs === null || epochMs === undefined) return '';
  return formatDateTime(languageOf(res), Number(epochMs), res.locals.timeZone as string);
}

/** What a `<time>` element shows: see views/partials/time.ejs. */
export interface TimeElement {
  /** ISO 8601, UTC: the `datetime` attribute. */
  datetime: string;
  /** The server's rendering, in the reader's language and zone. */
  text: string;
  /**
   * When the reader chose no zone: the Intl locale the browser formats the date with, in its own
   * zone (the `data-local` attribute, read by public/js/enhance.js). Null when the reader chose a
   * zone: the server's text stands.
   */
  local: string | null;
}

export function timeOf(res: Response, epochMs: number | null | undefined): TimeElement | null {
  if (epochMs === null || epochMs === undefined) return null;
  const at = Number(epochMs);
  return {
    datetime: new Date(at).toISOString(),
    text: formatDate(res, at),
    local: res.locals.timeZoneChosen ? null : intlLocaleOf(languageOf(res)),
  };
}

/** Logged-in pages and token pages must never be cached by browsers or proxies. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
