// Dates in the reader's language and time zone. The zone is always given by the caller: the
// reader's own choice, else the installation's DEFAULT_TIME_ZONE.
import type { Language } from './index.js';

/**
 * How pages show a date and time: "24 Nov 2026, 10:15 WET" / "24/11/2026, 10:15 WET", the zone's
 * short name always visible. public/js/enhance.js formats `time[data-local]` elements in the
 * browser's zone with the same options (DATE_OPTIONS there; a test keeps them equal).
 */
export const PAGE_DATE_OPTIONS: Readonly<Intl.DateTimeFormatOptions> = Object.freeze({
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZoneName: 'short',
});

/** Mail spells the date out ("24 November 2026 at 10:15") and names the zone beside it. */
const MAIL_DATE_OPTIONS: Readonly<Intl.DateTimeFormatOptions> = Object.freeze({ dateStyle: 'long', timeStyle: 'short' });

export type DateStyle = 'page' | 'mail';

const OPTIONS: Record<DateStyle, Readonly<Intl.DateTimeFormatOptions>> = { page: PAGE_DATE_OPTIONS, mail: MAIL_DATE_OPTIONS };

/** The Intl locale of a catalogue language: British English dates, European Portuguese ones. */
export function intlLocaleOf(language: Language): string {
  return language === 'pt-PT' ? 'pt-PT' : 'en-GB';
}

// One formatter per language, zone and style, built the first time it is needed: building an
// Intl.DateTimeFormat costs far more than formatting with it. Zones are validated before they get
// here (config, accounts), so the map stays as small as the zones in use.
const formatters = new Map<string, Intl.DateTimeFormat>();

export function dateTimeFormatter(language: Language, timeZone: string, style: DateStyle = 'page'): Intl.DateTimeFormat {
  const key = `${language}|${timeZone}|${style}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(intlLocaleOf(language), { ...OPTIONS[style], timeZone });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** A date and time in the reader's language and the given zone. */
export function formatDateTime(language: Language, epochMs: number, timeZone: string, style: DateStyle = 'page'): string {
  return dateTimeFormatter(language, timeZone, style).format(new Date(epochMs));
}

const zoneNameFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The zone's long generic name in the reader's language at a moment ("Western European Time",
 * "Hora da Europa Ocidental"): the same in summer and winter, but not across history (Lisbon was
 * on Central European Time in the 1970s), hence the moment. Intl falls back to an offset
 * ("GMT+00:00") for zones it has no name for; the IANA name is given then, which says more.
 */
export function timeZoneName(language: Language, timeZone: string, epochMs: number): string {
  const key = `${language}|${timeZone}`;
  let formatter = zoneNameFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(intlLocaleOf(language), { timeZone, timeZoneName: 'longGeneric' });
    zoneNameFormatters.set(key, formatter);
  }
  const generic = formatter.formatToParts(epochMs).find((part) => part.type === 'timeZoneName')?.value ?? '';
  return generic && !/^(GMT|UTC)([+-]|$)/.test(generic) ? generic : timeZone;
}
