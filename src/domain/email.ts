import type { Message } from './errors.js';

// Deliberately simple: one @, no whitespace or control characters (header injection), a dot in the domain.
const EMAIL = /^[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+@[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+\.[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+$/u;

/**
 * Characters no one types in an address and that make one address look like another on a page or
 * in a mail, beyond the C0 controls EMAIL already refuses: C1 controls, format characters (zero-width spaces and joiners, text-direction
 * marks, embeddings, overrides and isolates, the byte-order mark), private-use characters and lone
 * surrogates. An address pasted with them is refused with its own message rather than stored.
 */
const INVISIBLE = /[\x80-\x9f\p{Cf}\p{Co}\p{Cs}]/u;

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
