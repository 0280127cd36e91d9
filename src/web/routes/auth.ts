import { Router, type Request, type Response } from 'express';
import { RateLimitedError } from '../../domain/errors.js';
import type { Domain } from '../../domain/index.js';
import { field, optionalField, parseForm, safeNextPath } from '../forms.js';
import { loginPathBackTo } from '../middleware/auth.js';
import type { DeviceCookies } from '../middleware/device-cookie.js';
import { MAX_RETURN_PATH, noStore } from '../middleware/locals.js';
import { regenerate } from '../middleware/session.js';
import type { LoginAttempt, RateLimits } from '../middleware/rate-limits.js';
import { rateLimited } from '../render-errors.js';

/**
 * The login form with the handle typed and the way back kept. After a POST the language switcher
 * leads back to /login with that way back, not to the bare POST path.
 */
function renderLogin(req: Request, res: Response, handle: string, rawNext: unknown, error: string | undefined): void {
  const next = safeNextPath(rawNext) ?? '';
  if (req.method === 'POST') {
    const back = loginPathBackTo(next);
    res.locals.returnPath = next && back.length <= MAX_RETURN_PATH ? back : '/login';
  }
  res.render('login', { title: req.t('login.title'), values: { handle, next }, error });
}

export function authRoutes(domain: Domain, rateLimits: RateLimits, devices: DeviceCookies): Router {
  const router = Router();

  router.get('/login', noStore, (req, res) => {
    if (req.account) return res.redirect(303, safeNextPath(req.query.next) ?? '/contacts');
    renderLogin(req, res, '', req.query.next, undefined);
  });

  router.post('/login', noStore, async (req, res) => {
    const form = parseForm({ handle: field(200), password: field(1024), next: optionalField(2000) }, req.body);
    const next = safeNextPath(form.next) ?? '/contacts';
    const handle = form.handle.trim().toLowerCase().slice(0, 120);
    const ip = req.ip ?? 'unknown';
    // The browser that last logged in to this handle counts its attempts on its own, unless the
    // password changed since (it may have been someone else's then).
    const claim = devices.claimFor(req, handle);
    const device = claim && claim.passwordChangedAt === ((await domain.accounts.findByHandle(handle))?.passwordChangedAt ?? 0) ? claim.id : undefined;
    let attempt: LoginAttempt;
    try {
      attempt = await rateLimits.beginLogin(handle, ip, device);
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      // The form again, with the handle and the way back kept, and the wait in its message.
      renderLogin(req, res, form.handle, form.next, rateLimited(res, error));
      return;
    }
    const account = await domain.accounts.authenticate(form.handle, form.password);
    await domain.audit.record({ accountId: account?.id ?? null, action: account ? 'login.success' : 'login.failure', subject: handle, ip: req.ip ?? null });
    if (!account) {
      // Already counted by beginLogin.
      renderLogin(req, res.status(401), form.handle, form.next, req.t('login.failed'));
      return;
    }
    await rateLimits.loginSucceeded(attempt);
    devices.remember(res, handle, account.passwordChangedAt);
    // A new session id at login defeats session fixation; the CSRF token is renewed with it.
    const language = req.session.language;
    await regenerate(req);
    req.session.accountId = account.id;
    req.session.loggedInAt = Date.now();
    req.session.passwordChangedAt = account.passwordChangedAt ?? 0;
    if (language) req.session.language = language;
    res.redirect(303, next);
  });

  // `next` (from "Switch account" on a confirmation link meant for another account): the login
  // page then leads back there. A logout never fails on its fields: a way back that is missing or
  // not a path of this site is left out.
  router.post('/logout', (req, res, next) => {
    const body = req.body as Record<string, unknown> | undefined;
    const back = safeNextPath(body?.next);
    req.session.destroy((error) => {
      if (error) return next(error);
      res.redirect(303, back ? loginPathBackTo(back) : '/login');
    });
  });

  return router;
}
