import type { Language } from './index.js';

/** Customers are in Portugal: every date is shown in Lisbon time, whatever the server's zone. */
export const DISPLAY_TIME_ZONE = 'Europe/Lisbon';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A date and time in the reader's language (formatters are built once and reused). */
export function formatDateTime(language: Language, epochMs: number, dateStyle: 'medium' | 'long' = 'medium'): string {
  const key = `${language}|${dateStyle}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(language === 'pt-PT' ? 'pt-PT' : 'en-GB', { dateStyle, timeStyle: 'short', timeZone: DISPLAY_TIME_ZONE });
    formatters.set(key, formatter);
  }
  return formatter.format(new Date(epochMs));
}
