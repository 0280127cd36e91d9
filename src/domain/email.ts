import type { Message } from './errors.js';

// Deliberately simple: one @, no whitespace or control characters (header injection), a dot in the domain.
const EMAIL = /^[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+@[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+\.[^\s@<>()",;:\\[\]\x00-\x1f\x7f]+$/u;

export function parseEmail(raw: unknown): { email: string } | { error: Message } {
  if (typeof raw !== 'string' || raw.trim() === '') return { error: { key: 'errors.email.required' } };
  const email = raw.trim();
  if (email.length > 254 || !EMAIL.test(email)) return { error: { key: 'errors.email.format' } };
  return { email };
}

/** Names end up in mail headers: strip control characters and collapse whitespace. */
export function cleanDisplayName(raw: string): string {
  return raw.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
}
