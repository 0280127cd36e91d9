import type { TFunction } from 'i18next';
import type { Account } from '../domain/accounts.js';
import type { Language } from '../i18n/index.js';

export interface FlashMessage {
  type: 'success' | 'info' | 'error';
  key: string;
  params?: Record<string, string | number>;
  /** Placeholders that are dates (epoch ms): shown as `<time>` elements in the reader's zone (flashParts). */
  times?: Record<string, number>;
  /** Extra lines (e.g. one per created request), each a key with parameters. */
  items?: { key: string; params?: Record<string, string | number> }[];
}

declare module 'express-session' {
  interface SessionData {
    accountId?: number;
    /** When the user logged in (epoch ms), for the absolute session lifetime. */
    loggedInAt?: number;
    /** The account's passwordChangedAt when this session logged in (0 for null); see loadAccount. */
    passwordChangedAt?: number;
    language?: Language;
    flash?: FlashMessage[];
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      account?: Account;
      language: Language;
      t: TFunction;
    }
  }
}
