// Fixtures for the domain tests: one migrated database per test file, a controllable clock, and
// small readers for the rows the tests assert on (outbox mails, request events, contacts).
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import type { Account } from '../../src/domain/accounts.js';
import { DomainError, ValidationError } from '../../src/domain/errors.js';
import { createDomain, type Domain } from '../../src/domain/index.js';
import type { Role } from '../../src/domain/roles.js';
import type { Service } from '../../src/domain/services.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const PASSWORD = 'correct horse battery staple';
export const CTX = { ip: '127.0.0.1' } as const;
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
export const TTL = 7 * DAY;

/** A clock that only moves forward, so requests made by earlier tests never come back to life. */
export class Clock {
  private current = Date.UTC(2027, 0, 4, 9, 0, 0);
  readonly now = (): number => this.current;
  advance(ms: number): number {
    this.current += ms;
    return this.current;
  }
}

export interface MailRow {
  id: number;
  kind: string;
  requestId: number | null;
  to: string;
  locale: string;
  payload: Record<string, unknown> & { token?: string };
}

export interface EventRow {
  event: string;
  from_state: string | null;
  to_state: string;
  actor_id: number | null;
}

export interface Counts {
  change_requests: number;
  request_roles: number;
  request_parties: number;
  request_events: number;
  outbox: number;
}

let handleCounter = 0;
/** Unique, well-formed handles (two letters, digits, -ovh) across every test file of the run. */
export function nextHandle(prefix = 'dt'): string {
  handleCounter += 1;
  return `${prefix}${String(handleCounter).padStart(6, '0')}-ovh`;
}

export class DomainFixture {
  readonly knex: Knex;
  readonly clock = new Clock();
  readonly domain: Domain;

  private constructor(readonly db: TestDatabase) {
    this.knex = db.knex;
    this.domain = createDomain({ knex: db.knex, handleSuffix: 'ovh', requestTtlMs: TTL, now: this.clock.now });
  }

  static async create(): Promise<DomainFixture> {
    return new DomainFixture(await createTestDatabase());
  }

  close(): Promise<void> {
    return this.db.destroy();
  }

  /** A new account through the real AccountService (argon2 hash included). */
  account(fields: { handle?: string; locale?: 'en' | 'pt'; name?: string } = {}): Promise<Account> {
    const handle = fields.handle ?? nextHandle();
    return this.domain.accounts.create({
      handle,
      email: `${handle}@example.test`,
      name: fields.name ?? `Person ${handle}`,
      locale: fields.locale ?? 'en',
      password: PASSWORD,
    });
  }

  async accounts(n: number): Promise<Account[]> {
    const result: Account[] = [];
    for (let i = 0; i < n; i += 1) result.push(await this.account());
    return result;
  }

  service(contacts: { admin: Account; tech?: Account; billing?: Account }, fields: { name?: string; type?: string } = {}): Promise<Service> {
    return this.domain.services.create({
      name: fields.name ?? `service-${nextHandle('sv')}`,
      type: fields.type ?? 'domain',
      admin: contacts.admin.handle,
      tech: (contacts.tech ?? contacts.admin).handle,
      billing: (contacts.billing ?? contacts.admin).handle,
    });
  }

  /** The service's current contacts, straight from the table. */
  async contacts(serviceId: number): Promise<Record<Role, number>> {
    const row = (await this.knex('services').where({ id: serviceId }).first('admin_id', 'tech_id', 'billing_id')) as {
      admin_id: number;
      tech_id: number;
      billing_id: number;
    };
    return { admin: Number(row.admin_id), tech: Number(row.tech_id), billing: Number(row.billing_id) };
  }

  async mails(requestId: number, kind?: string): Promise<MailRow[]> {
    let query = this.knex('outbox').where({ request_id: requestId }).orderBy('id');
    if (kind) query = query.where({ kind });
    const rows = (await query.select('id', 'kind', 'request_id', 'recipient_address', 'locale', 'payload')) as {
      id: number;
      kind: string;
      request_id: number | null;
      recipient_address: string;
      locale: string;
      payload: string;
    }[];
    return rows.map((row) => ({
      id: Number(row.id),
      kind: row.kind,
      requestId: row.request_id === null ? null : Number(row.request_id),
      to: row.recipient_address,
      locale: row.locale,
      payload: JSON.parse(row.payload) as MailRow['payload'],
    }));
  }

  /** "kind → address" for every mail of a request (optionally only one kind), sorted, for deepEqual. */
  async mailSummary(requestId: number, kind?: string): Promise<string[]> {
    return (await this.mails(requestId, kind)).map((mail) => `${mail.kind} ${mail.to}`).sort();
  }

  /** The token from the newest confirm (or reminder) mail an account received about a request. */
  async tokenOf(requestId: number, account: Account, kind: 'request.confirm' | 'request.reminder' = 'request.confirm'): Promise<string> {
    const mails = (await this.mails(requestId, kind)).filter((mail) => mail.to === account.email);
    const token = mails.at(-1)?.payload.token;
    assert.equal(typeof token, 'string', `no ${kind} mail with a token for ${account.handle} about request ${requestId}`);
    return token as string;
  }

  async events(requestId: number): Promise<EventRow[]> {
    const rows = (await this.knex('request_events').where({ request_id: requestId }).orderBy('id').select('event', 'from_state', 'to_state', 'actor_id')) as EventRow[];
    return rows.map((row) => ({ ...row, actor_id: row.actor_id === null ? null : Number(row.actor_id) }));
  }

  /** A party's stored token hashes (never the tokens themselves). */
  async partyHashes(requestId: number, account: Account): Promise<{ token_hash: string | null; replaced_token_hash: string | null }> {
    return (await this.knex('request_parties').where({ request_id: requestId, account_id: account.id }).first('token_hash', 'replaced_token_hash')) as {
      token_hash: string | null;
      replaced_token_hash: string | null;
    };
  }

  async requestRow(requestId: number): Promise<{ state: string; failure_reason: string | null; expires_at: number; decided_at: number | null }> {
    return (await this.knex('change_requests').where({ id: requestId }).first('state', 'failure_reason', 'expires_at', 'decided_at')) as {
      state: string;
      failure_reason: string | null;
      expires_at: number;
      decided_at: number | null;
    };
  }

  async activeRoles(serviceId: number): Promise<string[]> {
    const rows = (await this.knex('request_roles').where({ service_id: serviceId }).select('role', 'active')) as { role: string; active: boolean | number }[];
    return rows.filter((row) => row.active === true || Number(row.active) === 1).map((row) => row.role).sort();
  }

  async counts(): Promise<Counts> {
    const result = {} as Counts;
    for (const table of ['change_requests', 'request_roles', 'request_parties', 'request_events', 'outbox'] as const) {
      const row = (await this.knex(table).count({ n: '*' }).first()) as { n: number | string };
      result[table] = Number(row.n);
    }
    return result;
  }
}

/** The addresses of the given accounts as "kind → address" lines, sorted like mailSummary. */
export function expectedMails(kind: string, ...accounts: Account[]): string[] {
  return accounts.map((account) => `${kind} ${account.email}`);
}

export function sortedLines(...groups: string[][]): string[] {
  return groups.flat().sort();
}

/** Awaits a rejection with a ValidationError and checks the message of one field. */
export async function rejectsField(
  promise: Promise<unknown>,
  field: string,
  key: string,
  params?: Record<string, string | number>,
): Promise<ValidationError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ValidationError, `expected a ValidationError on ${field} (${key}), got ${String(caught)}`);
  assert.equal(caught.fields[field]?.key, key, `fields: ${JSON.stringify(caught.fields)}`);
  if (params) {
    for (const [name, value] of Object.entries(params)) assert.equal(caught.fields[field]?.params?.[name], value, `param ${name}: ${JSON.stringify(caught.fields)}`);
  }
  return caught;
}

/** Awaits a rejection with the given domain error class (and message key, when given). */
export async function rejectsWith<E extends DomainError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  key?: string,
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof type, `expected a ${type.name}, got ${String(caught)}`);
  if (key !== undefined) assert.equal(caught.messageKey, key);
  return caught;
}
