// How names are compared in searches: without case and without accents, the same on SQLite and
// PostgreSQL. SQLite's own LIKE folds ASCII letters only ("música" never found "MÚSICA"), and
// neither database ignores accents, so the folding is done here, once when a name is written
// (services.search_name) and once per search, and the database compares the folded strings
// byte for byte (on PostgreSQL the column's collation is "C", as SQLite's is binary).

const COMBINING_MARKS = /\p{M}+/gu;

/**
 * The searchable form of a text: compatibility-decomposed (NFKD, so "ﬁ" is "fi" and "é" is "e"
 * plus an accent), accents and other combining marks removed, then case-folded: upper-cased
 * first, so that "ß" is "ss" like "SS", then lower-cased, with the Greek final sigma, which
 * lower-casing writes "ς" or "σ" depending on what follows it, always "σ".
 *
 * Migration 20261124070000 stored this form of every service's name; changing it needs a
 * migration that folds the stored names again.
 */
export function foldForSearch(text: string): string {
  return text.normalize('NFKD').replace(COMBINING_MARKS, '').toUpperCase().toLowerCase().replace(/ς/g, 'σ');
}
