// Translation catalogues (i18next). Every user-facing string — pages, flash messages, validation
// errors, mail, CLI output — is a key in src/i18n/locales/<language>.json.
import i18next, { type i18n as I18n, type TFunction } from 'i18next';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locale } from '../domain/roles.js';

export const LANGUAGES = ['en', 'pt-PT'] as const;
export type Language = (typeof LANGUAGES)[number];
export type Translate = TFunction;

const localesDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), 'locales');

/**
 * A language's catalogue is `<language>.json` plus any `<language>.<part>.json` beside it (e.g. the
 * CLI's strings in `en.cli.json`); their top-level keys must not overlap.
 */
export function loadCatalogue(language: Language): Record<string, unknown> {
  const files = readdirSync(localesDirectory)
    .filter((file) => file === `${language}.json` || (file.startsWith(`${language}.`) && file.endsWith('.json')))
    .sort();
  const catalogue: Record<string, unknown> = {};
  for (const file of files) {
    const part = JSON.parse(readFileSync(path.join(localesDirectory, file), 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(part)) {
      if (key in catalogue) throw new Error(`Translation key "${key}" of ${file} is already defined in another ${language} file.`);
      catalogue[key] = value;
    }
  }
  return catalogue;
}

/** Account locales are short ('pt', 'en'); catalogues are regional where it matters. */
export function languageOfLocale(locale: Locale | string | undefined): Language {
  return locale === 'pt' || locale === 'pt-PT' ? 'pt-PT' : 'en';
}

export function localeOfLanguage(language: Language): Locale {
  return language === 'pt-PT' ? 'pt' : 'en';
}

export function createI18n(): I18n {
  const instance = i18next.createInstance();
  void instance.init({
    initAsync: false,
    resources: Object.fromEntries(LANGUAGES.map((language) => [language, { translation: loadCatalogue(language) }])),
    supportedLngs: [...LANGUAGES],
    fallbackLng: 'en',
    lng: 'en',
    // EJS escapes on output; escaping here too would double-escape.
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  return instance;
}
