// Device cookies (OWASP's "slow brute force protection using device cookies"): the browser that
// last logged in to a handle keeps a signed cookie for that handle, and its later login attempts
// to it count on a counter of their own (rate-limits.ts). Someone who fails on purpose from many
// addresses until the handle is refused everywhere therefore does not lock out its owner's
// browser. The cookie opens nothing by itself: it only says which counter an attempt uses.
//
// Signed here with cookie-signature under a key of its own, rather than through cookie-parser's
// req.secret, which any other cookie middleware could set or skip.
import { parse as parseCookies } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import type { Request, Response } from 'express';
import { createHmac, randomBytes } from 'node:crypto';
import { servedOverHttps, type Config } from '../../config.js';

/** How long a browser stays trusted for a handle after its last login there. */
export const DEVICE_COOKIE_MAX_AGE_MS = 180 * 24 * 60 * 60 * 1000;

/** id (16 random bytes) : when the password last changed : the handle's keyed hash (16 bytes). */
const DEVICE_VALUE = /^([A-Za-z0-9_-]{22}):(\d{1,15}):([A-Za-z0-9_-]{22})$/;

export interface DeviceClaim {
  /** The id the device's counter is kept under. */
  id: string;
  /** The account's passwordChangedAt (0 for never) when the cookie was given. */
  passwordChangedAt: number;
}

export interface DeviceCookies {
  /** What a genuine device cookie for this handle says, if the request shows one. */
  claimFor(req: Request, handle: string): DeviceClaim | undefined;
  /** After a correct password: a new cookie for this handle (a new id at every login). */
  remember(res: Response, handle: string, passwordChangedAt: number | null): void;
}

export function deviceCookieName(config: Config): string {
  // __Host-: Secure, path=/ and no Domain, so that no other host under the same domain can set
  // one that would shadow the owner's (possible only behind HTTPS).
  return servedOverHttps(config) ? '__Host-device' : 'device';
}

export function deviceCookies(config: Config): DeviceCookies {
  const name = deviceCookieName(config);
  const secure = servedOverHttps(config);
  // Keys of their own, derived from the session secret: a signature made for one cookie is never
  // valid for another.
  const key = createHmac('sha256', config.sessionSecret).update('device-cookie').digest('base64url');
  // The handle is kept as a keyed hash: the cookie does not tell who logged in on this browser.
  const handleKey = createHmac('sha256', config.sessionSecret).update('device-cookie-handle').digest();
  const handleHash = (handle: string) => createHmac('sha256', handleKey).update(handle).digest().subarray(0, 16).toString('base64url');
  return {
    claimFor(req, handle) {
      const raw = req.headers.cookie;
      if (!raw) return undefined;
      const signed = parseCookies(raw)[name];
      const value = signed?.startsWith('s:') ? unsign(signed.slice(2), key) : false;
      const match = typeof value === 'string' ? DEVICE_VALUE.exec(value) : null;
      if (!match || match[3] !== handleHash(handle)) return undefined;
      return { id: match[1] as string, passwordChangedAt: Number(match[2]) };
    },
    remember(res, handle, passwordChangedAt) {
      const value = `${randomBytes(16).toString('base64url')}:${passwordChangedAt ?? 0}:${handleHash(handle)}`;
      res.cookie(name, `s:${sign(value, key)}`, { httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge: DEVICE_COOKIE_MAX_AGE_MS });
    },
  };
}
