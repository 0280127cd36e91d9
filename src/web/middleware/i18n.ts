import type { RequestHandler } from 'express';
import type { i18n as I18n, TFunction } from 'i18next';
import { languageOfLocale, LANGUAGES, type Language } from '../../i18n/index.js';

/**
 * The reader's language: the account's locale when logged in, else the one chosen with the
 * switcher (kept in the session), else Accept-Language.
 */
export function i18nMiddleware(i18n: I18n): RequestHandler {
  const translators = new Map(LANGUAGES.map((language) => [language, memoized(i18n.getFixedT(language))]));
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

/**
 * i18next copies its options on every call (~15 µs), and a page makes hundreds of calls; most
 * take no options, so their answer never changes for a language and is kept after the first call.
 */
function memoized(t: TFunction): TFunction {
  const cache = new Map<string, string>();
  const wrapped = (key: unknown, ...rest: unknown[]) => {
    if (rest.length === 0 && typeof key === 'string') {
      let value = cache.get(key);
      if (value === undefined) {
        value = String((t as unknown as (k: string) => unknown)(key));
        cache.set(key, value);
      }
      return value;
    }
    return (t as unknown as (...args: unknown[]) => unknown)(key, ...rest);
  };
  return Object.assign(wrapped, t) as unknown as TFunction;
}
