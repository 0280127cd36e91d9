import type { RequestHandler } from 'express';
import session from 'express-session';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import type { Knex } from 'knex';
import type { Config } from '../../config.js';

export const SESSION_TABLE = 'sessions';

export function sessionCookieName(config: Config): string {
  // __Host- cookies must be Secure, path=/ and host-only: only possible behind HTTPS.
  return config.publicUrl.startsWith('https:') ? '__Host-sid' : 'sid';
}

export function sessionMiddleware(config: Config, knex: Knex): RequestHandler {
  const store = new ConnectSessionKnexStore({
    knex,
    tableName: SESSION_TABLE,
    createTable: false,
    // The worker purges expired sessions; web processes do no background work.
    cleanupInterval: 0,
  });
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
      secure: config.publicUrl.startsWith('https:'),
      maxAge: config.sessionIdleMs,
      path: '/',
    },
  });
}
