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
