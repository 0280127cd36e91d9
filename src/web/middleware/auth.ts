import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config.js';
import type { AccountService } from '../../domain/accounts.js';

/** Loads the logged-in account, ending sessions past their absolute lifetime. */
export function loadAccount(config: Config, accounts: AccountService): RequestHandler {
  return async (req, res, next) => {
    const { accountId, loggedInAt } = req.session;
    if (accountId === undefined) return next();
    if (loggedInAt === undefined || Date.now() - loggedInAt > config.sessionAbsoluteMs) {
      await new Promise<void>((resolve) => req.session.regenerate(() => resolve()));
      return next();
    }
    req.account = await accounts.findById(accountId);
    if (!req.account) delete req.session.accountId;
    res.locals.user = req.account;
    next();
  };
}

export function loginUrl(req: Request): string {
  return '/login?next=' + encodeURIComponent(req.originalUrl);
}

/** Pages for logged-in users only; the others are sent to the login page and come back after. */
export const requireLogin: RequestHandler = (req, res, next) => {
  if (req.account) return next();
  res.redirect(303, req.method === 'GET' ? loginUrl(req) : '/login');
};

export function currentAccount(req: Request) {
  if (!req.account) throw new Error('requireLogin must run before this handler');
  return req.account;
}
