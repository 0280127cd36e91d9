import express, { type Express } from 'express';
import helmet from 'helmet';
import { csrfSync } from 'csrf-sync';
import type { i18n as I18n } from 'i18next';
import type { Knex } from 'knex';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config.js';
import type { Domain } from '../domain/index.js';
import { redactUrl, type Logger } from '../logger.js';
import { loadAccount } from './middleware/auth.js';
import { deviceCookies } from './middleware/device-cookie.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { i18nMiddleware } from './middleware/i18n.js';
import { viewLocals } from './middleware/locals.js';
import { createRateLimits } from './middleware/rate-limits.js';
import { saveSessionBeforeRedirect, sessionMiddleware } from './middleware/session.js';
import { DEFAULT_SESSION_CACHE, type SessionCacheOptions } from './middleware/session-store.js';
import { authRoutes } from './routes/auth.js';
import { contactsRoutes } from './routes/contacts.js';
import { devMailRoutes } from './routes/dev-mail.js';
import { healthRoutes } from './routes/health.js';
import { languageRoutes } from './routes/language.js';
import { profileRoutes } from './routes/profile.js';
import { requestsRoutes } from './routes/requests.js';
import { servicesRoutes } from './routes/services.js';
import { useViews } from './views.js';
import './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const publicDirectory = path.join(root, 'public');

export interface WebDeps {
  config: Config;
  knex: Knex;
  domain: Domain;
  i18n: I18n;
  logger: Logger;
  /**
   * How long sessions and the logged-in account are served from memory (DEFAULT_SESSION_CACHE);
   * tests that edit stored sessions or accounts behind the app's back turn it off.
   */
  sessionCache?: SessionCacheOptions;
}

export function createApp(deps: WebDeps): Express {
  const { config, knex, domain, i18n, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Pages are rendered per request (CSRF token, flash, no-store): an ETag would never match, and
  // computing it hashes every page. Static files keep theirs (express.static).
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  useViews(app, { cache: config.env !== 'development' });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      // Tokens travel in links: never leak them to another site through Referer.
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      strictTransportSecurity: config.env === 'production' ? { maxAge: 31536000, includeSubDomains: true } : false,
    }),
  );
  app.use(
    pinoHttp({
      logger,
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url?.startsWith('/static/') === true },
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use('/static', express.static(publicDirectory, { maxAge: config.env === 'production' ? '1h' : 0, index: false }));
  app.use(healthRoutes(knex));
  // Browsers ask for it on their own, at any moment: answer before sessions are touched.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  const sessionCache = deps.sessionCache ?? DEFAULT_SESSION_CACHE;
  app.use(sessionMiddleware(config, knex, sessionCache));
  app.use(saveSessionBeforeRedirect);
  app.use(loadAccount(config, domain.accounts, { cacheMs: sessionCache.readMs }));
  app.use(i18nMiddleware(i18n));
  const { csrfSynchronisedProtection, generateToken } = csrfSync({
    getTokenFromRequest: (req) => (typeof req.body?._csrf === 'string' ? req.body._csrf : undefined),
  });
  app.use(viewLocals((req) => generateToken(req), config.defaultTimeZone));
  app.use(express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }));
  app.use(csrfSynchronisedProtection);

  const rateLimits = createRateLimits(knex);
  app.use(authRoutes(domain, rateLimits, deviceCookies(config)));
  app.use(languageRoutes(domain));
  app.use(contactsRoutes(domain));
  app.use(servicesRoutes(domain, rateLimits));
  app.use(requestsRoutes(domain, rateLimits));
  app.use(profileRoutes(domain, rateLimits, config.defaultTimeZone));

  // The development mailbox exists only when mail goes to files instead of an SMTP server.
  if (!config.smtpUrl && config.env !== 'production') app.use(devMailRoutes(config));

  app.use(notFound);
  app.use(errorHandler(logger, i18n.getFixedT('en')));
  return app;
}
