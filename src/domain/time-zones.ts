// IANA time zones, as far as this runtime's Intl knows them. An account may choose one for its
// dates; the installation has a default (DEFAULT_TIME_ZONE).

/** The longest zone name stored (accounts.time_zone, outbox.time_zone). */
export const TIME_ZONE_MAX_LENGTH = 64;

// Letters, digits and the punctuation IANA names use ("America/Port-au-Prince", "Etc/GMT+1").
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+/-]*$/;

let supported: readonly string[] | undefined;
let supportedSet: ReadonlySet<string> | undefined;

/** Every zone Intl lists, sorted (computed once per process). */
export function supportedTimeZones(): readonly string[] {
  supported ??= Object.freeze([...Intl.supportedValuesOf('timeZone')]);
  return supported;
}

/**
 * Zones this runtime's Intl (ICU, following CLDR) still lists under names the IANA database has
 * since replaced: the value stored stays Intl's (what canonicalTimeZone resolves either name to),
 * the name shown is today's, so a reader from Kyiv or Kolkata finds it where expected. From the
 * IANA tzdata "backward" links; a runtime that lists the new names does not list the old ones.
 */
const CURRENT_NAMES: Readonly<Record<string, string>> = Object.freeze({
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
});

/** The zone's name as people read it: today's IANA name, with spaces for underscores ("Europe/Kyiv", "America/Port of Spain"). */
export function timeZoneLabel(zone: string): string {
  return (CURRENT_NAMES[zone] ?? zone).replace(/_/g, ' ');
}

/** The zones renamed by the IANA database since this runtime's Intl named them, old → new (for tests). */
export function renamedTimeZones(): Readonly<Record<string, string>> {
  return CURRENT_NAMES;
}

/** Names checked once and found canonical (bounded by the zones Intl knows). */
const canonical = new Set<string>();

/**
 * The zone's name as Intl resolves it (e.g. "utc" → "UTC", "europe/lisbon" → "Europe/Lisbon"),
 * or undefined when `raw` is not a zone Intl knows. Names missing from
 * Intl.supportedValuesOf('timeZone') but accepted by Intl.DateTimeFormat count too: "UTC" and
 * other aliases are not always listed.
 */
export function canonicalTimeZone(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length > TIME_ZONE_MAX_LENGTH || !ZONE_NAME.test(raw)) return undefined;
  supportedSet ??= new Set(supportedTimeZones());
  if (supportedSet.has(raw) || canonical.has(raw)) return raw;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en', { timeZone: raw }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  if (resolved.length > TIME_ZONE_MAX_LENGTH || !ZONE_NAME.test(resolved)) return undefined;
  if (resolved === raw) canonical.add(raw);
  return resolved;
}
