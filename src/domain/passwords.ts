// Password policy (NIST 800-63B style: length, no composition rules, common passwords refused)
// and argon2id hashing with OWASP's minimum parameters or better.
import argon2 from 'argon2';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { Message } from './errors.js';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 } as const;

let commonPasswords: Set<string> | undefined;
function isCommon(password: string): boolean {
  commonPasswords ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return commonPasswords.has(password.toLowerCase());
}

export function checkPasswordPolicy(password: unknown): Message | undefined {
  if (typeof password !== 'string' || password.length === 0) return { key: 'errors.password.required' };
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return { key: 'errors.password.tooShort', params: { min: PASSWORD_MIN_LENGTH } };
  if (length > PASSWORD_MAX_LENGTH) return { key: 'errors.password.tooLong', params: { max: PASSWORD_MAX_LENGTH } };
  if (isCommon(password)) return { key: 'errors.password.common' };
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, HASH_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

// Verified against when the handle is unknown, so both failures cost the same time.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword('not-a-real-password-' + Math.random());
  return dummyHash;
}
