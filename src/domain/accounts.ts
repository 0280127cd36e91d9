import type { Knex } from 'knex';
import { isUniqueViolation } from './db-errors.js';
import { cleanDisplayName, parseEmail } from './email.js';
import { ValidationError, type Message } from './errors.js';
import { parseHandle } from './handles.js';
import { checkPasswordPolicy, dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import { isLocale, type Locale } from './roles.js';
import type { Outbox } from './outbox.js';
import { endSessionsOf } from './sessions.js';
import { canonicalTimeZone } from './time-zones.js';

export interface Account {
  id: number;
  handle: string;
  email: string;
  name: string;
  locale: Locale;
  billingOverdueSince: number | null;
  /** The IANA zone the account reads dates in; null = automatic (the browser's, else the default). */
  timeZone: string | null;
  /** When the password last changed (epoch ms), or null: sessions logged in before it are ended. */
  passwordChangedAt: number | null;
}

interface AccountRow {
  id: number;
  handle: string;
  email: string;
  name: string;
  locale: string;
  password_hash: string;
  billing_overdue_since: number | null;
  time_zone: string | null;
  password_changed_at?: number | string | null;
}

export const ACCOUNT_COLUMNS = ['id', 'handle', 'email', 'name', 'locale', 'billing_overdue_since', 'time_zone', 'password_changed_at'] as const;

export function toAccount(row: Omit<AccountRow, 'password_hash'>): Account {
  return {
    id: row.id,
    handle: row.handle,
    email: row.email,
    name: row.name,
    locale: isLocale(row.locale) ? row.locale : 'en',
    billingOverdueSince: row.billing_overdue_since === null ? null : Number(row.billing_overdue_since),
    // A zone this runtime no longer knows (after an upgrade of its time-zone data) reads as automatic.
    timeZone: row.time_zone ? (canonicalTimeZone(row.time_zone) ?? null) : null,
    passwordChangedAt: row.password_changed_at === null || row.password_changed_at === undefined ? null : Number(row.password_changed_at),
  };
}

export interface NewAccountInput {
  handle: unknown;
  email: unknown;
  name?: unknown;
  locale?: unknown;
  password: unknown;
}

export interface ValidAccount {
  handle: string;
  email: string;
  name: string;
  locale: Locale;
  password: string;
}

/** Checks a new account's fields; returns the clean values or the message for each bad field. */
export function validateNewAccount(
  input: NewAccountInput,
  handleSuffix: string,
): { value: ValidAccount } | { errors: Record<string, Message> } {
  const errors: Record<string, Message> = {};
  const handle = parseHandle(input.handle, handleSuffix);
  if ('error' in handle) errors.handle = handle.error;
  const email = parseEmail(input.email);
  if ('error' in email) errors.email = email.error;
  const name = typeof input.name === 'string' ? cleanDisplayName(input.name) : '';
  const locale = input.locale === undefined || input.locale === '' ? 'en' : input.locale;
  if (!isLocale(locale)) errors.locale = { key: 'errors.locale' };
  const passwordError = checkPasswordPolicy(input.password);
  if (passwordError) errors.password = passwordError;
  if (Object.keys(errors).length > 0 || 'error' in handle || 'error' in email || !isLocale(locale)) return { errors };
  return { value: { handle: handle.handle, email: email.email, name, locale, password: input.password as string } };
}

export interface AccountServiceDeps {
  knex: Knex;
  handleSuffix: string;
  outbox: Outbox;
  now: () => number;
}

export class AccountService {
  constructor(private readonly deps: AccountServiceDeps) {}

  async create(input: NewAccountInput): Promise<Account> {
    const checked = validateNewAccount(input, this.deps.handleSuffix);
    if ('errors' in checked) throw new ValidationError(checked.errors);
    const { handle, email, name, locale, password } = checked.value;
    const passwordHash = await hashPassword(password);
    const { knex, now } = this.deps;
    const taken = new ValidationError({ handle: { key: 'errors.handle.taken', params: { handle } } });
    if (await knex('accounts').where({ handle }).first('id')) throw taken;
    const at = now();
    try {
      const [row] = await knex('accounts')
        .insert({ handle, email, name, locale, password_hash: passwordHash, created_at: at, updated_at: at })
        .returning(ACCOUNT_COLUMNS as unknown as string[]);
      return toAccount(row as AccountRow);
    } catch (error) {
      // A concurrent create of the same handle lost the race against the unique index.
      if (isUniqueViolation(error)) throw taken;
      throw error;
    }
  }

  /**
   * `lock`: on PostgreSQL the row stays locked until `db`, a transaction, ends (FOR UPDATE); on
   * SQLite the transaction's BEGIN IMMEDIATE already holds the database's write lock.
   */
  async findById(id: number, db: Knex | Knex.Transaction = this.deps.knex, options: { lock?: boolean } = {}): Promise<Account | undefined> {
    const query = db('accounts').where({ id });
    const row = await (options.lock && db.client.config.client === 'pg' ? query.forUpdate() : query).first(ACCOUNT_COLUMNS);
    return row ? toAccount(row as AccountRow) : undefined;
  }

  async findByHandle(rawHandle: string, db: Knex | Knex.Transaction = this.deps.knex): Promise<Account | undefined> {
    const row = await db('accounts').where({ handle: rawHandle.trim().toLowerCase() }).first(ACCOUNT_COLUMNS);
    return row ? toAccount(row as AccountRow) : undefined;
  }

  /** Resolves a handle or throws a ValidationError on `field` saying what is wrong with it. */
  async requireByHandle(raw: unknown, field = 'handle', db: Knex | Knex.Transaction = this.deps.knex): Promise<Account> {
    const parsed = parseHandle(raw, this.deps.handleSuffix);
    if ('error' in parsed) throw new ValidationError({ [field]: parsed.error });
    const account = await this.findByHandle(parsed.handle, db);
    if (!account) throw new ValidationError({ [field]: { key: 'errors.handle.unknown', params: { handle: parsed.handle } } });
    return account;
  }

  /**
   * Returns the account when handle and password match. An unknown or malformed handle still costs
   * one argon2 verification, so the answer time does not tell which part was wrong.
   */
  async authenticate(rawHandle: unknown, password: unknown): Promise<Account | undefined> {
    const handle = typeof rawHandle === 'string' ? rawHandle.trim().toLowerCase() : '';
    const secret = typeof password === 'string' ? password : '';
    const row = handle
      ? ((await this.deps.knex('accounts').where({ handle }).first([...ACCOUNT_COLUMNS, 'password_hash'])) as AccountRow | undefined)
      : undefined;
    const ok = await verifyPassword(row?.password_hash ?? (await dummyPasswordHash()), secret);
    return row && ok ? toAccount(row) : undefined;
  }

  async verifyPasswordOf(accountId: number, password: unknown): Promise<boolean> {
    const row = (await this.deps.knex('accounts').where({ id: accountId }).first('password_hash')) as { password_hash: string } | undefined;
    return !!row && typeof password === 'string' && (await verifyPassword(row.password_hash, password));
  }

  /** Marks an account's payments overdue (since now) or up to date. */
  async setBillingStatus(rawHandle: unknown, overdue: boolean): Promise<Account> {
    const account = await this.requireByHandle(rawHandle);
    const at = this.deps.now();
    await this.deps.knex('accounts')
      .where({ id: account.id })
      .update({ billing_overdue_since: overdue ? (account.billingOverdueSince ?? at) : null, updated_at: at });
    return (await this.findById(account.id)) as Account;
  }

  /**
   * Changes the address the account's mail goes to, and tells the address it had before
   * (account.emailChanged, queued in the same transaction): if someone who learnt the password
   * made the change, the owner hears of it where they still read their mail.
   */
  async changeEmail(accountId: number, input: { email: unknown; password: unknown }, audit: AuditContext): Promise<Account> {
    const email = parseEmail(input.email);
    if ('error' in email) throw new ValidationError({ email: email.error });
    if (!(await this.verifyPasswordOf(accountId, input.password))) {
      throw new ValidationError({ password: { key: 'errors.password.wrong' } });
    }
    const at = this.deps.now();
    await this.deps.knex.transaction(async (trx) => {
      // Locked, so that two changes at once tell each previous address in turn (A of A→B, then B of B→C).
      const before = await this.findById(accountId, trx, { lock: true });
      await trx('accounts').where({ id: accountId }).update({ email: email.email, updated_at: at });
      await trx('audit_log').insert({ account_id: accountId, action: 'profile.email', ip: audit.ip, at });
      if (before && before.email !== email.email) {
        await this.deps.outbox.enqueue(trx, [
          {
            kind: 'account.emailChanged',
            recipient: { accountId, handle: before.handle, name: before.name, email: before.email, locale: before.locale, timeZone: before.timeZone },
            payload: { handle: before.handle, newEmail: email.email, changedAt: at },
          },
        ]);
      }
    });
    return (await this.findById(accountId)) as Account;
  }

  /**
   * Changes the password and ends the account's other sessions (all but `keepSessionId`): their
   * rows go, and the new `passwordChangedAt` (returned, for the session the change was made in to
   * keep) no longer matches theirs, which ends them even where a web process still holds them.
   */
  async changePassword(
    accountId: number,
    input: { currentPassword: unknown; newPassword: unknown },
    audit: AuditContext,
    keepSessionId?: string,
  ): Promise<number> {
    if (!(await this.verifyPasswordOf(accountId, input.currentPassword))) {
      throw new ValidationError({ currentPassword: { key: 'errors.password.wrong' } });
    }
    const policy = checkPasswordPolicy(input.newPassword);
    if (policy) throw new ValidationError({ newPassword: policy });
    const hash = await hashPassword(input.newPassword as string);
    const at = this.deps.now();
    await this.deps.knex.transaction(async (trx) => {
      await trx('accounts').where({ id: accountId }).update({ password_hash: hash, password_changed_at: at, updated_at: at });
      await endSessionsOf(trx, accountId, keepSessionId);
      await trx('audit_log').insert({ account_id: accountId, action: 'profile.password', ip: audit.ip, at });
    });
    return at;
  }

  /**
   * Sets the zone the account reads dates in (pages and mail): an IANA name Intl knows, stored as
   * Intl names it, or '' (or null) for automatic. Audited like the other profile changes.
   */
  async changeTimeZone(accountId: number, rawZone: unknown, audit: AuditContext): Promise<Account> {
    let timeZone: string | null = null;
    if (rawZone !== '' && rawZone !== null) {
      timeZone = canonicalTimeZone(rawZone) ?? null;
      if (timeZone === null) throw new ValidationError({ timeZone: { key: 'errors.timeZone' } });
    }
    const at = this.deps.now();
    await this.deps.knex.transaction(async (trx) => {
      await trx('accounts').where({ id: accountId }).update({ time_zone: timeZone, updated_at: at });
      await trx('audit_log').insert({ account_id: accountId, action: 'profile.timeZone', ip: audit.ip, detail: JSON.stringify({ timeZone }), at });
    });
    return (await this.findById(accountId)) as Account;
  }

  async changeLocale(accountId: number, locale: unknown): Promise<void> {
    if (!isLocale(locale)) throw new ValidationError({ locale: { key: 'errors.locale' } });
    await this.deps.knex('accounts').where({ id: accountId }).update({ locale, updated_at: this.deps.now() });
  }
}

export interface AuditContext {
  ip: string | null;
}
