import { Router, type Request, type Response } from 'express';
import { ValidationError } from '../../domain/errors.js';
import type { Domain } from '../../domain/index.js';
import { supportedTimeZones, timeZoneLabel } from '../../domain/time-zones.js';
import { timeZoneName } from '../../i18n/dates.js';
import { field, parseForm } from '../forms.js';
import { currentAccount, requireLogin } from '../middleware/auth.js';
import { flash, noStore } from '../middleware/locals.js';
import type { RateLimits } from '../middleware/rate-limits.js';
import { withFormErrors } from '../render-errors.js';

interface RenderOptions {
  emailValues?: { email: string };
  emailErrors?: Record<string, string>;
  passwordErrors?: Record<string, string>;
  timeZoneValues?: { timeZone: string };
  timeZoneErrors?: Record<string, string>;
}

/** A rate limit's wait, which withFormErrors gives as `form`, shown at the password field it is about. */
function atPasswordField(errors: Record<string, string>, field: string): Record<string, string> {
  const { form, ...rest } = errors;
  return form === undefined ? errors : { ...rest, [field]: form };
}

export function profileRoutes(domain: Domain, rateLimits: RateLimits, defaultTimeZone: string): Router {
  const router = Router();
  router.use('/profile', requireLogin, noStore);
  // The zones offered, once per process: Intl's list as values, with readable labels in their order.
  const zones = supportedTimeZones();
  const zoneSet = new Set(zones);
  const defaultZoneLabel = timeZoneLabel(defaultTimeZone);
  const zoneOptions = zones
    .map((zone) => ({ value: zone, label: timeZoneLabel(zone) }))
    .sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));

  function render(req: Request, res: Response, options: RenderOptions = {}) {
    const account = currentAccount(req);
    const selected = options.timeZoneValues?.timeZone ?? account.timeZone ?? '';
    let timeZoneSummary: string;
    if (account.timeZone) {
      const name = timeZoneName(req.language, account.timeZone, Date.now());
      const label = timeZoneLabel(account.timeZone);
      timeZoneSummary = name === account.timeZone ? label : req.t('profile.timeZoneNamed', { zone: label, name });
    } else {
      timeZoneSummary = req.t('profile.timeZoneAutomatic', { default: defaultZoneLabel });
    }
    res.render('profile', {
      title: req.t('profile.title'),
      account,
      emailValues: options.emailValues ?? { email: account.email },
      emailErrors: options.emailErrors ?? {},
      passwordErrors: options.passwordErrors ?? {},
      timeZoneErrors: options.timeZoneErrors ?? {},
      timeZoneSummary,
      defaultTimeZone: defaultZoneLabel,
      zoneOptions,
      // A zone Intl knows but does not list (e.g. "UTC"), chosen earlier: offered too, so it stays selected.
      unlistedZone: account.timeZone && !zoneSet.has(account.timeZone) ? { value: account.timeZone, label: timeZoneLabel(account.timeZone) } : null,
      selectedZone: selected,
    });
  }

  /**
   * Runs a change that checks the account's password, counted by the rate limit before it runs
   * (RateLimitedError past the limit); the check is given back unless the password was wrong.
   */
  async function checkingPassword<T>(accountId: number, change: () => Promise<T>): Promise<T> {
    await rateLimits.beginPasswordCheck(accountId);
    try {
      const result = await change();
      await rateLimits.passwordCheckSucceeded(accountId);
      return result;
    } catch (error) {
      const wrong = error instanceof ValidationError && Object.values(error.fields).some((message) => message.key === 'errors.password.wrong');
      if (!wrong) await rateLimits.passwordCheckSucceeded(accountId);
      throw error;
    }
  }

  router.get('/profile', (req, res) => render(req, res));

  router.post('/profile/email', async (req, res) => {
    const form = parseForm({ email: field(400), password: field(1024) }, req.body);
    await withFormErrors(
      res,
      async () => {
        const { id } = currentAccount(req);
        await checkingPassword(id, () => domain.accounts.changeEmail(id, form, { ip: req.ip ?? null }));
        flash(req, { type: 'success', key: 'profile.emailChanged' });
        res.redirect(303, '/profile');
      },
      (errors) => render(req, res, { emailValues: { email: form.email }, emailErrors: atPasswordField(errors, 'password') }),
    );
  });

  router.post('/profile/password', async (req, res) => {
    const form = parseForm({ currentPassword: field(1024), newPassword: field(1024) }, req.body);
    await withFormErrors(
      res,
      async () => {
        const { id } = currentAccount(req);
        // This session stays logged in: it takes the new password's time as its own.
        req.session.passwordChangedAt = await checkingPassword(id, () =>
          domain.accounts.changePassword(id, form, { ip: req.ip ?? null }, req.sessionID),
        );
        flash(req, { type: 'success', key: 'profile.passwordChanged' });
        res.redirect(303, '/profile');
      },
      (errors) => render(req, res, { passwordErrors: atPasswordField(errors, 'currentPassword') }),
    );
  });

  // '' = automatic; any other value must be a zone Intl knows.
  router.post('/profile/time-zone', async (req, res) => {
    const form = parseForm({ timeZone: field(100) }, req.body);
    await withFormErrors(
      res,
      async () => {
        await domain.accounts.changeTimeZone(currentAccount(req).id, form.timeZone, { ip: req.ip ?? null });
        flash(req, { type: 'success', key: 'profile.timeZoneChanged' });
        res.redirect(303, '/profile');
      },
      (errors) => render(req, res, { timeZoneValues: { timeZone: form.timeZone }, timeZoneErrors: errors }),
    );
  });

  return router;
}
