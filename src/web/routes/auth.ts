import { Router } from 'express';
import { RateLimitedError } from '../../domain/errors.js';
import type { Domain } from '../../domain/index.js';
import { field, optionalField, parseForm, safeNextPath } from '../forms.js';
import { noStore } from '../middleware/locals.js';
import { regenerate } from '../middleware/session.js';
import type { RateLimits } from '../middleware/rate-limits.js';
import { rateLimited } from '../render-errors.js';

export function authRoutes(domain: Domain, rateLimits: RateLimits): Router {
  const router = Router();

  router.get('/login', noStore, (req, res) => {
    if (req.account) return res.redirect(303, safeNextPath(req.query.next) ?? '/contacts');
    res.render('login', { title: req.t('login.title'), values: { handle: '', next: safeNextPath(req.query.next) ?? '' }, error: undefined });
  });

  router.post('/login', noStore, async (req, res) => {
    const form = parseForm({ handle: field(200), password: field(1024), next: optionalField(2000) }, req.body);
    const next = safeNextPath(form.next) ?? '/contacts';
    const handle = form.handle.trim().toLowerCase().slice(0, 120);
    const ip = req.ip ?? 'unknown';
    try {
      await rateLimits.checkLogin(handle, ip);
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      // The form again, with the handle and the way back kept, and the wait in its message.
      const wait = rateLimited(res, error);
      res.render('login', { title: req.t('login.title'), values: { handle: form.handle, next: safeNextPath(form.next) ?? '' }, error: wait });
      return;
    }
    const account = await domain.accounts.authenticate(form.handle, form.password);
    await domain.audit.record({ accountId: account?.id ?? null, action: account ? 'login.success' : 'login.failure', subject: handle, ip: req.ip ?? null });
    if (!account) {
      await rateLimits.loginFailed(handle, ip);
      res.status(401).render('login', {
        title: req.t('login.title'),
        values: { handle: form.handle, next: safeNextPath(form.next) ?? '' },
        error: req.t('login.failed'),
      });
      return;
    }
    await rateLimits.loginSucceeded(handle, ip);
    // A new session id at login defeats session fixation; the CSRF token is renewed with it.
    const language = req.session.language;
    await regenerate(req);
    req.session.accountId = account.id;
    req.session.loggedInAt = Date.now();
    req.session.passwordChangedAt = account.passwordChangedAt ?? 0;
    if (language) req.session.language = language;
    res.redirect(303, next);
  });

  router.post('/logout', (req, res, next) => {
    req.session.destroy((error) => {
      if (error) return next(error);
      res.redirect(303, '/login');
    });
  });

  return router;
}
