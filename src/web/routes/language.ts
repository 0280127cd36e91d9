import { Router } from 'express';
import type { Domain } from '../../domain/index.js';
import { LANGUAGES, localeOfLanguage, type Language } from '../../i18n/index.js';
import { field, optionalField, parseForm, safeNextPath } from '../forms.js';

/** The language switcher: a plain form, so it works without JavaScript. */
export function languageRoutes(domain: Domain): Router {
  const router = Router();
  router.post('/language', async (req, res) => {
    const form = parseForm({ language: field(10), next: optionalField(2000) }, req.body);
    const language = (LANGUAGES as readonly string[]).includes(form.language) ? (form.language as Language) : 'en';
    req.session.language = language;
    if (req.account) await domain.accounts.changeLocale(req.account.id, localeOfLanguage(language));
    res.redirect(303, safeNextPath(form.next) ?? '/');
  });
  return router;
}
