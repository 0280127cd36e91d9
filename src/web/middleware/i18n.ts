import type { RequestHandler } from 'express';
import type { i18n as I18n } from 'i18next';
import { fastTranslator } from '../../i18n/fast-translator.js';
import { languageOfLocale, LANGUAGES, type Language } from '../../i18n/index.js';

/**
 * The reader's language: the account's locale when logged in, else the one chosen with the
 * switcher (kept in the session), else Accept-Language.
 */
export function i18nMiddleware(i18n: I18n): RequestHandler {
  const translators = new Map(LANGUAGES.map((language) => [language, fastTranslator(i18n, language)]));
  return (req, res, next) => {
    let language: Language;
    if (req.account) language = languageOfLocale(req.account.locale);
    else if (req.session?.language) language = req.session.language;
    else {
      const best = req.headers['accept-language'] ? req.acceptsLanguages('en', 'pt-PT', 'pt') : 'en';
      language = best === 'pt-PT' || best === 'pt' ? 'pt-PT' : 'en';
    }
    req.language = language;
    req.t = translators.get(language) ?? i18n.getFixedT('en');
    res.locals.t = req.t;
    res.locals.language = language;
    res.locals.htmlLang = language === 'pt-PT' ? 'pt-PT' : 'en';
    next();
  };
}
