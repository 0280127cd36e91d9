import type { Message } from './errors.js';

// Deliberately simple: one @, no whitespace or control characters (header injection), a dot in the domain.
const EMAIL = /^[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+@[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+\.[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+$/u;

/**
 * Characters no one types in an address and that make one address look like another on a page or
 * in a mail, beyond the controls and spaces EMAIL already refuses: C1 controls, format characters
 * (zero-width spaces and joiners, text-direction marks, embeddings, overrides and isolates, soft
 * hyphens), private-use characters, lone surrogates, and letters and marks that show as nothing
 * (the combining grapheme joiner, variation selectors, the Hangul fillers, the blank Braille
 * pattern). The joiners ZWJ and ZWNJ, which a few scripts use inside words, are refused with the
 * rest: no mail provider gives out such addresses, and a look-alike is the greater risk. Letters
 * that merely resemble others (a Cyrillic "а" for a Latin "a") are not caught here.
 */
const INVISIBLE = /[\x80-\x9f\p{Cf}\p{Co}\p{Cs}\p{Variation_Selector}\u115f\u1160\u2800\u3164\uffa0]|\u034f/u;

export function parseEmail(raw: unknown): { email: string } | { error: Message } {
  if (typeof raw !== 'string' || raw.trim() === '') return { error: { key: 'errors.email.required' } };
  const email = raw.trim();
  if (email.length > 254 || !EMAIL.test(email)) return { error: { key: 'errors.email.format' } };
  if (INVISIBLE.test(email)) return { error: { key: 'errors.email.invisible' } };
  return { email };
}

/** Names end up in mail headers: strip control characters and collapse whitespace. */
export function cleanDisplayName(raw: string): string {
  return raw.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}
