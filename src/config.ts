// The only module that reads process.env. Everything else receives a frozen Config.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ms from 'ms';
import { canonicalTimeZone } from './domain/time-zones.js';

export type DatabaseClient = 'sqlite3' | 'pg';

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly publicUrl: string;
  readonly databaseUrl: string;
  readonly databaseClient: DatabaseClient;
  readonly sessionSecret: string;
  readonly mailDir: string;
  readonly mailFrom: string;
  readonly smtpUrl: string | undefined;
  readonly mongodbUrl: string | undefined;
  readonly handleSuffix: string;
  /** IANA zone of the dates shown to readers who chose none (and of their mail). */
  readonly defaultTimeZone: string;
  readonly requestTtlMs: number;
  readonly expireEveryMs: number;
  readonly remindBeforeMs: number;
  readonly dispatchEveryMs: number;
  readonly sessionIdleMs: number;
  readonly sessionAbsoluteMs: number;
  readonly retentionMs: number;
  readonly trustProxy: number;
  /**
   * SQLite only: read-only connections a web process opens beside its one writing connection, for
   * the contacts list's reads (0: those reads queue on the writing connection with the rest).
   */
  readonly sqliteReadConnections: number;
  readonly logLevel: string;
  readonly varDir: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/**
 * MAIL_FROM: an address, bare or with a display name in front ("Contacts <contacts@example.com>").
 * Its domain is labels of any characters but the address's own punctuation (underscores of
 * container host names and internationalised names pass), or an address literal, [192.0.2.1] or
 * [IPv6:2001:db8::1]. A sender the SMTP server refuses holds every mail back.
 */
const MAIL_ADDRESS = String.raw`[^\s@<>()",;:\\[\]]+@(?:[^\s@<>()",;:\\[\].]+(?:\.[^\s@<>()",;:\\[\].]+)*|\[(?:IPv6:[0-9a-f:.]+|[0-9.]+)\])`;
const MAIL_FROM_FORMS = [new RegExp(`^${MAIL_ADDRESS}$`, 'i'), new RegExp(`^[^<>\r\n]*<${MAIL_ADDRESS}>$`, 'i')];

/** DEFAULT_TIME_ZONE when unset: the provider's customers are mostly in Portugal. */
export const DEFAULT_TIME_ZONE = 'Europe/Lisbon';

/**
 * A human duration ("90 seconds", "7 days") of at least `minimum`. A bare number is refused rather
 * than read as milliseconds, as `ms` would: REQUEST_TTL=7 meant 7 days to whoever wrote it.
 */
function duration(env: Env, name: string, fallback: string, minimum: string): number {
  const raw = env[name] ?? fallback;
  const value = /[a-z]/i.test(raw) ? ms(raw as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${name}="${raw}" is not a duration; use a number with a unit, such as "90 seconds" or "7 days".`);
  }
  if (value < ms(minimum as ms.StringValue)) throw new ConfigError(`${name}="${raw}" is too short; use at least ${minimum}.`);
  return value;
}

/** A URL as it may appear in an error message: without its user name and password. */
function withoutCredentials(raw: string): string {
  // Up to the last @: a password may hold / and @ (and then is no URL at all).
  return raw.replace(/\/\/.*@/, '//…@');
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name}="${raw}" must be a whole number between ${min} and ${max}.`);
  }
  return Number(raw);
}

function url(name: string, raw: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name}="${withoutCredentials(raw)}" is not a URL.`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name}="${withoutCredentials(raw)}" must start with ${protocols.map((p) => p + '//').join(' or ')}.`);
  }
  return raw;
}

function timeZone(env: Env, name: string, fallback: string): string {
  const raw = env[name] ?? fallback;
  const zone = canonicalTimeZone(raw);
  if (!zone) throw new ConfigError(`${name}="${raw}" is not a time zone Node.js knows; use an IANA name such as "Europe/Lisbon" or "UTC".`);
  return zone;
}

function databaseClientOf(databaseUrl: string): DatabaseClient {
  if (databaseUrl.startsWith('sqlite:')) return 'sqlite3';
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return 'pg';
  throw new ConfigError(
    `DATABASE_URL="${withoutCredentials(databaseUrl)}" is not supported; use sqlite:path/to/file.sqlite3 or postgres://user@host/db.`,
  );
}

/** Development secret kept under var/ so sessions survive restarts without configuration. */
function developmentSecret(varDir: string): string {
  const file = path.join(varDir, 'session-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(varDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/** Whether the site is served over HTTPS (its PUBLIC_URL): cookies are then Secure and `__Host-`. */
export function servedOverHttps(config: Pick<Config, 'publicUrl'>): boolean {
  return config.publicUrl.startsWith('https:');
}

export function loadConfig(rawEnv: Env = process.env): Config {
  // An empty variable (`FOO=`) means "not set", as in most shells' and orchestrators' habits.
  const env: Env = Object.fromEntries(Object.entries(rawEnv).filter(([, value]) => value !== ''));
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'production' && nodeEnv !== 'test') {
    throw new ConfigError(`NODE_ENV="${nodeEnv}" must be development, production or test.`);
  }
  const varDir = path.resolve(env.VAR_DIR ?? 'var');
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const publicUrl = url('PUBLIC_URL', env.PUBLIC_URL ?? `http://localhost:${port}`, ['http:', 'https:']).replace(/\/+$/, '');
  // Links in mail are PUBLIC_URL + a path: a query or fragment would swallow the path (and the
  // token with it), and credentials would go out in every mail.
  const site = new URL(publicUrl);
  if (site.search !== '' || site.hash !== '' || site.username !== '' || site.password !== '' || publicUrl.endsWith('?') || publicUrl.endsWith('#')) {
    throw new ConfigError(`PUBLIC_URL="${withoutCredentials(publicUrl)}" must be the site's address only: no user name or password, no ?query, no #fragment.`);
  }
  const databaseUrl = env.DATABASE_URL ?? `sqlite:${path.join(varDir, 'data.sqlite3')}`;
  const databaseClient = databaseClientOf(databaseUrl);

  let sessionSecret = env.SESSION_SECRET;
  if (sessionSecret !== undefined && sessionSecret.length < 32) {
    throw new ConfigError('SESSION_SECRET must be at least 32 characters long.');
  }
  if (sessionSecret === undefined) {
    if (nodeEnv === 'production') throw new ConfigError('SESSION_SECRET is required when NODE_ENV=production.');
    sessionSecret = developmentSecret(varDir);
  }

  const handleSuffix = (env.HANDLE_SUFFIX ?? 'ovh').toLowerCase();
  if (!/^[a-z]{1,16}$/.test(handleSuffix)) {
    throw new ConfigError(`HANDLE_SUFFIX="${env.HANDLE_SUFFIX}" must be 1 to 16 letters.`);
  }
  const smtpUrl = env.SMTP_URL ? url('SMTP_URL', env.SMTP_URL, ['smtp:', 'smtps:']) : undefined;
  // nodemailer reads the URL with Node's legacy parser, which takes a backslash for a slash where
  // the URL standard does not: the two would then see different hosts (the transport decides on
  // TLS by the host it sees). A password that needs one is written %5C.
  if (smtpUrl?.includes('\\')) throw new ConfigError('SMTP_URL must not contain a backslash; write one in the user name or password as %5C.');
  const mongodbUrl = env.MONGODB_URL ? url('MONGODB_URL', env.MONGODB_URL, ['mongodb:', 'mongodb+srv:']) : undefined;
  // Derived from PUBLIC_URL's host when unset: an IP address as an address literal
  // (contacts@[192.0.2.1], contacts@[IPv6:2001:db8::1]), a fully qualified name without its dot.
  const host = site.hostname.replace(/\.$/, '');
  const mailFrom =
    env.MAIL_FROM ?? `contacts@${host.startsWith('[') ? `[IPv6:${host.slice(1, -1)}]` : /^[0-9.]+$/.test(host) ? `[${host}]` : host}`;
  if (/[\r\n\0]/.test(mailFrom)) throw new ConfigError('MAIL_FROM must not contain line breaks.');
  if (env.MAIL_FROM !== undefined && !MAIL_FROM_FORMS.some((form) => form.test(mailFrom.trim()))) {
    throw new ConfigError(`MAIL_FROM="${mailFrom}" is not an address; use "contacts@example.com" or "Contacts <contacts@example.com>".`);
  }
  const logLevel = env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL="${logLevel}" must be one of fatal, error, warn, info, debug, trace, silent.`);
  }

  return Object.freeze({
    env: nodeEnv,
    port,
    publicUrl,
    databaseUrl,
    databaseClient,
    sessionSecret,
    mailDir: path.resolve(env.MAIL_DIR ?? path.join(varDir, 'mail')),
    mailFrom,
    smtpUrl,
    mongodbUrl,
    handleSuffix,
    defaultTimeZone: timeZone(env, 'DEFAULT_TIME_ZONE', DEFAULT_TIME_ZONE),
    requestTtlMs: duration(env, 'REQUEST_TTL', '7 days', '1 minute'),
    expireEveryMs: duration(env, 'EXPIRE_EVERY', '1 minute', '1 second'),
    remindBeforeMs: duration(env, 'REMIND_BEFORE', '1 day', '1 minute'),
    dispatchEveryMs: duration(env, 'DISPATCH_EVERY', '2 seconds', '100 ms'),
    sessionIdleMs: duration(env, 'SESSION_IDLE_TIMEOUT', '30 minutes', '1 minute'),
    sessionAbsoluteMs: duration(env, 'SESSION_MAX_AGE', '12 hours', '1 minute'),
    retentionMs: duration(env, 'RETENTION', '30 days', '1 hour'),
    trustProxy: integer(env, 'TRUST_PROXY', 0, 0, 10),
    // At most 2: SQLite's queries run on Node's thread pool (4 threads), which the writing
    // connection and password hashing need too; more readers would make them wait behind searches.
    sqliteReadConnections: integer(env, 'SQLITE_READ_CONNECTIONS', 2, 0, 2),
    logLevel,
    varDir,
  });
}
