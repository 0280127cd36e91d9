import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import type { Knex } from 'knex';
import { servedOverHttps, type Config } from '../../config.js';
import { SESSIONS_TABLE } from '../../domain/sessions.js';
import { CachedKnexSessionStore, type SessionCacheOptions } from './session-store.js';

export function sessionCookieName(config: Config): string {
  // __Host- cookies must be Secure, path=/ and host-only: only possible behind HTTPS.
  return servedOverHttps(config) ? '__Host-sid' : 'sid';
}

export function sessionMiddleware(config: Config, knex: Knex, cache: SessionCacheOptions): RequestHandler {
  const store = new CachedKnexSessionStore(knex, SESSIONS_TABLE, cache);
  return session({
    name: sessionCookieName(config),
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    // Each request pushes the idle expiry forward; the absolute lifetime is checked in auth.ts.
    rolling: true,
    proxy: config.trustProxy > 0,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: servedOverHttps(config),
      maxAge: config.sessionIdleMs,
      path: '/',
    },
  });
}

/**
 * express-session saves a changed session while the response is being written, so a browser can
 * follow a redirect's Location header before the save lands and miss what the handler stored (a
 * login, a flash message). Redirects therefore wait for the session to be saved.
 */
export const saveSessionBeforeRedirect: RequestHandler = (req, res, next) => {
  const redirect = res.redirect.bind(res) as (status: number, url: string) => void;
  res.redirect = ((statusOrUrl: number | string, maybeUrl?: string) => {
    const [status, url] = typeof statusOrUrl === 'number' ? [statusOrUrl, maybeUrl as string] : [302, statusOrUrl];
    if (!req.session) return redirect(status, url);
    req.session.save((error) => (error ? next(error) : redirect(status, url)));
  }) as typeof res.redirect;
  next();
};

/** A new, empty session under a new id (login, and ending a session that may no longer be used). */
export function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve())));
}
