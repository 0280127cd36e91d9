import { Router, type Request, type Response } from 'express';
import type { Domain } from '../../domain/index.js';
import { field, parseForm } from '../forms.js';
import { currentAccount, requireLogin } from '../middleware/auth.js';
import { flash, noStore } from '../middleware/locals.js';
import { withFormErrors } from '../render-errors.js';

export function profileRoutes(domain: Domain): Router {
  const router = Router();
  router.use('/profile', requireLogin, noStore);

  function render(req: Request, res: Response, options: { emailValues?: { email: string }; emailErrors?: Record<string, string>; passwordErrors?: Record<string, string> } = {}) {
    const account = currentAccount(req);
    res.render('profile', {
      title: req.t('profile.title'),
      account,
      emailValues: options.emailValues ?? { email: account.email },
      emailErrors: options.emailErrors ?? {},
      passwordErrors: options.passwordErrors ?? {},
    });
  }

  router.get('/profile', (req, res) => render(req, res));

  router.post('/profile/email', async (req, res) => {
    const form = parseForm({ email: field(400), password: field(1024) }, req.body);
    await withFormErrors(
      res,
      async () => {
        await domain.accounts.changeEmail(currentAccount(req).id, form, { ip: req.ip ?? null });
        flash(req, { type: 'success', key: 'profile.emailChanged' });
        res.redirect(303, '/profile');
      },
      (errors) => render(req, res, { emailValues: { email: form.email }, emailErrors: errors }),
    );
  });

  router.post('/profile/password', async (req, res) => {
    const form = parseForm({ currentPassword: field(1024), newPassword: field(1024) }, req.body);
    await withFormErrors(
      res,
      async () => {
        await domain.accounts.changePassword(currentAccount(req).id, form, { ip: req.ip ?? null });
        flash(req, { type: 'success', key: 'profile.passwordChanged' });
        res.redirect(303, '/profile');
      },
      (errors) => render(req, res, { passwordErrors: errors }),
    );
  });

  return router;
}
