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
  readonly logLevel: string;
  readonly varDir: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

/** DEFAULT_TIME_ZONE when unset: the provider's customers are mostly in Portugal. */
export const DEFAULT_TIME_ZONE = 'Europe/Lisbon';

function duration(env: Env, name: string, fallback: string): number {
  const raw = env[name] ?? fallback;
  const value = ms(raw as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${name}="${raw}" is not a duration; use a human string such as "90 seconds" or "7 days".`);
  }
  return value;
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
    throw new ConfigError(`${name}="${raw}" is not a URL.`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name}="${raw}" must start with ${protocols.map((p) => p + '//').join(' or ')}.`);
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
    `DATABASE_URL="${databaseUrl}" is not supported; use sqlite:path/to/file.sqlite3 or postgres://user@host/db.`,
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
  const mongodbUrl = env.MONGODB_URL ? url('MONGODB_URL', env.MONGODB_URL, ['mongodb:', 'mongodb+srv:']) : undefined;
  const mailFrom = env.MAIL_FROM ?? `contacts@${new URL(publicUrl).hostname}`;
  if (/[\r\n\0]/.test(mailFrom)) throw new ConfigError('MAIL_FROM must not contain line breaks.');
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
    requestTtlMs: duration(env, 'REQUEST_TTL', '7 days'),
    expireEveryMs: duration(env, 'EXPIRE_EVERY', '1 minute'),
    remindBeforeMs: duration(env, 'REMIND_BEFORE', '1 day'),
    dispatchEveryMs: duration(env, 'DISPATCH_EVERY', '2 seconds'),
    sessionIdleMs: duration(env, 'SESSION_IDLE_TIMEOUT', '30 minutes'),
    sessionAbsoluteMs: duration(env, 'SESSION_MAX_AGE', '12 hours'),
    retentionMs: duration(env, 'RETENTION', '30 days'),
    trustProxy: integer(env, 'TRUST_PROXY', 0, 0, 10),
    logLevel,
    varDir,
  });
}
