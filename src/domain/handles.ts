// Customer handles: two letters, 1–8 digits, a dash and the provider suffix (e.g. aa123456-ovh).
import type { Message } from './errors.js';

export function handlePattern(suffix: string): RegExp {
  return new RegExp(`^[a-z]{2}[0-9]{1,8}-${suffix}$`);
}

export function normalizeHandle(raw: string): string {
  return raw.trim().toLowerCase();
}

export function handleExample(suffix: string): string {
  return `aa123456-${suffix}`;
}

/** Returns the normalized handle, or the message explaining the expected format. */
export function parseHandle(raw: unknown, suffix: string): { handle: string } | { error: Message } {
  if (typeof raw !== 'string' || raw.trim() === '') {
    return { error: { key: 'errors.handle.required' } };
  }
  const handle = normalizeHandle(raw);
  if (!handlePattern(suffix).test(handle)) {
    return { error: { key: 'errors.handle.format', params: { example: handleExample(suffix), suffix } } };
  }
  return { handle };
}
