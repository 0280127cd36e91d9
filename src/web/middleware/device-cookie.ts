// Device cookies (OWASP's "slow brute force protection using device cookies"): a browser that logged
// in to a handle keeps a signed cookie naming that handle, and its later login attempts to the same
// handle count on a counter of their own (rate-limits.ts). Someone who fails on purpose from many
// addresses until the handle is refused everywhere therefore does not lock out its owner's
// browsers. The cookie opens nothing by itself: it only says which counter an attempt uses.
import cookieParser from 'cookie-parser';
import type { Request, RequestHandler, Response } from 'express';
import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../../config.js';

/** How long a browser stays trusted for a handle after its last login there. */
export const DEVICE_COOKIE_MAX_AGE_MS = 180 * 24 * 60 * 60 * 1000;

/** 16 random bytes, base64url: the id the device's counter is kept under. */
const DEVICE_VALUE = /^([A-Za-z0-9_-]{22}):(.+)$/;

export interface DeviceCookies {
  /** Reads the request's signed cookies: used on the login form's POST only. */
  parse: RequestHandler;
  /** The id of the device if the request shows a genuine device cookie for this handle. */
  trustedFor(req: Request, handle: string): string | undefined;
  /** After a correct password: the cookie for this handle, renewed (same id) or new. */
  remember(res: Response, handle: string, device: string | undefined): void;
}

export function deviceCookieName(config: Config): string {
  // __Secure- cookies must be Secure; __Host- would also need path=/, and this one stays on /login.
  return config.publicUrl.startsWith('https:') ? '__Secure-device' : 'device';
}

export function deviceCookies(config: Config): DeviceCookies {
  const name = deviceCookieName(config);
  const secure = config.publicUrl.startsWith('https:');
  // A key of its own, derived from the session secret: a signature made for one cookie is never
  // valid for the other.
  const key = createHmac('sha256', config.sessionSecret).update('device-cookie').digest('base64url');
  return {
    parse: cookieParser(key),
    trustedFor(req, handle) {
      const value: unknown = (req.signedCookies as Record<string, unknown> | undefined)?.[name];
      if (typeof value !== 'string') return undefined;
      const match = DEVICE_VALUE.exec(value);
      return match?.[2] === handle ? match[1] : undefined;
    },
    remember(res, handle, device) {
      const id = device ?? randomBytes(16).toString('base64url');
      res.cookie(name, `${id}:${handle}`, { signed: true, httpOnly: true, secure, sameSite: 'lax', path: '/login', maxAge: DEVICE_COOKIE_MAX_AGE_MS });
    },
  };
}
