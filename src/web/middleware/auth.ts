import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config.js';
import type { Account, AccountService } from '../../domain/accounts.js';
import { regenerate } from './session.js';

export interface LoadAccountOptions {
  /**
   * How long the logged-in account is served from memory between requests (0: read on every
   * request). Any request other than GET/HEAD forgets it when it ends, since that is how this
   * process changes an account; a change made elsewhere (the CLI) shows within this time.
   */
  cacheMs: number;
  now?: () => number;
}

/** Above this many remembered accounts, the oldest are forgotten. */
const MAX_CACHED_ACCOUNTS = 10_000;

/** Loads the logged-in account, ending sessions past their absolute lifetime or older than the password. */
export function loadAccount(config: Config, accounts: AccountService, options: LoadAccountOptions): RequestHandler {
  const now = options.now ?? Date.now;
  const cache = new Map<number, { account: Account; readAt: number }>();

  async function find(accountId: number): Promise<Account | undefined> {
    const at = now();
    const cached = cache.get(accountId);
    if (cached && at - cached.readAt < options.cacheMs) return cached.account;
    const account = await accounts.findById(accountId);
    cache.delete(accountId);
    if (account && options.cacheMs > 0) {
      cache.set(accountId, { account, readAt: at });
      if (cache.size > MAX_CACHED_ACCOUNTS) cache.delete(cache.keys().next().value as number);
    }
    return account;
  }

  return async (req, res, next) => {
    const { accountId, loggedInAt } = req.session;
    if (accountId === undefined) return next();
    if (loggedInAt === undefined || Date.now() - loggedInAt > config.sessionAbsoluteMs) {
      // Ended as far as this request goes even if the store fails to drop it.
      await regenerate(req).catch(() => undefined);
      return next();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      cache.delete(accountId);
      // 'close' comes after 'finish', and also when the client went away before the end.
      res.once('close', () => cache.delete(accountId));
    }
    const account = await find(accountId);
    if (account && (account.passwordChangedAt ?? 0) !== (req.session.passwordChangedAt ?? 0)) {
      // The password changed after this session logged in (elsewhere, or by the operator).
      // Ended as far as this request goes even if the store fails to drop it.
      await regenerate(req).catch(() => undefined);
      return next();
    }
    req.account = account;
    if (!req.account) delete req.session.accountId;
    res.locals.user = req.account;
    next();
  };
}

/** The login page, leading back to `path` after the login. */
export function loginPathBackTo(path: string): string {
  return '/login?next=' + encodeURIComponent(path);
}

export function loginUrl(req: Request): string {
  return loginPathBackTo(req.originalUrl);
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
