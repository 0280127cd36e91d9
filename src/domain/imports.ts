// Bulk imports of accounts and services for operators (the CLI's accounts:import and services:import).
//
// All-or-nothing: every record is read and checked first, every problem is collected with its line
// number, and only a file without a single problem is written, in one transaction of multi-row
// inserts. Nothing here knows about files or CSV: the caller hands in records (the header first)
// with the line each one started on.
//
// The messages that only exist for imports (header, column count, duplicates in the file…) use
// keys under `cli.import.*`: imports are an operator-only feature, so they live in the CLI catalogue.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { cleanDisplayName, parseEmail } from './email.js';
import { isUniqueViolation } from './db-errors.js';
import { DomainError, type Message } from './errors.js';
import { parseHandle } from './handles.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import { isLocale, isServiceType, ROLES, type Locale, type Role, type ServiceType } from './roles.js';
import { checkServiceName } from './services.js';
import { idList } from './sql-json.js';

export const ACCOUNT_IMPORT_HEADER = ['handle', 'email', 'name', 'locale', 'password'] as const;
export const SERVICE_IMPORT_HEADER = ['name', 'type', 'admin', 'tech', 'billing'] as const;

/** One record of the source, with the (1-based) line it starts on. The first record is the header. */
export interface ImportRecord {
  line: number;
  fields: string[];
  /** Set when the source could not read this record (e.g. a misplaced quote); `fields` is then unused. */
  problem?: Message;
}

/** Thrown by a record source that cannot go on (e.g. a quote never closed): reported as a problem. */
export class RecordSourceError extends Error {
  override name = 'RecordSourceError';
  constructor(
    readonly line: number,
    readonly problem: Message,
  ) {
    super(problem.key);
  }
}

export interface ImportProblem {
  line: number;
  /** The column at fault, when there is one. */
  field?: string;
  message: Message;
}

/** The file has problems; nothing was written. Problems are sorted by line. */
export class ImportError extends DomainError {
  override name = 'ImportError';
  readonly status = 422;
  constructor(readonly problems: ImportProblem[]) {
    super('cli.import.failed', { count: problems.length });
  }
}

export type ImportPhase = 'read' | 'hash' | 'write';

export interface ImportProgress {
  phase: ImportPhase;
  done: number;
  /** Unknown while reading: the source is a stream. */
  total?: number;
}

export interface ImportOptions {
  knex: Knex;
  handleSuffix: string;
  now?: () => number;
  onProgress?: (progress: ImportProgress) => void;
  /** Rows between two progress reports while reading and writing. */
  progressEvery?: number;
  /** Rows per INSERT statement; 500 rows × 9 columns stays far below both databases' parameter limits. */
  batchSize?: number;
  /** argon2id hashes computed at once; each takes ~40 ms and 19 MiB, so a few cores' worth. */
  hashConcurrency?: number;
}

export interface AccountImportSummary {
  rows: number;
  /** Plain-text passwords hashed during the import. */
  hashed: number;
  /** argon2id hashes stored as given. */
  kept: number;
  /** Accounts without a password: they cannot log in until an operator sets one. */
  locked: number;
}

export interface ServiceImportSummary {
  rows: number;
}

// Handles are looked up in chunks: well under SQLite's and PostgreSQL's bound-parameter limits.
const LOOKUP_CHUNK = 500;
// Plain-text passwords are few (a normal migration brings hashes), so report hashing more often.
const HASH_PROGRESS_EVERY = 100;

// The parameters come in either order: the reference implementation writes m,t,p, node-argon2 m,p,t.
const ARGON2ID_PHC = /^\$argon2id\$v=19\$(?=[^$]*\bm=)(?=[^$]*\bt=)(?=[^$]*\bp=)[mtp]=[0-9]{1,10},[mtp]=[0-9]{1,10},[mtp]=[0-9]{1,10}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
/**
 * The argon2id costs a kept hash may ask for. Every login with that handle runs them, in the web
 * process: a hash of m=4 GiB would make each attempt allocate 4 GiB, and one below argon2's minimum
 * (m < 8·p) could never be verified, so the account would be locked without anyone knowing.
 */
const ARGON2ID_LIMITS = { m: { min: 8, max: 262_144 }, t: { min: 1, max: 16 }, p: { min: 1, max: 16 } } as const;

function argon2idCostsUsable(hash: string): boolean {
  const costs = Object.fromEntries([...(hash.split('$')[3] ?? '').matchAll(/([mtp])=([0-9]+)/g)].map(([, name, value]) => [name, Number(value)]));
  const { m, t, p } = costs as { m: number; t: number; p: number };
  const within = (value: number, limit: { min: number; max: number }) => value >= limit.min && value <= limit.max;
  return within(m, ARGON2ID_LIMITS.m) && within(t, ARGON2ID_LIMITS.t) && within(p, ARGON2ID_LIMITS.p) && m >= 8 * p;
}

// Anything shaped like a modular-crypt/PHC string ($2b$…, $argon2i$…, $6$…) is meant as a hash.
const LOOKS_LIKE_HASH = /^\$[a-z0-9-]+\$/;

/**
 * An argon2id PHC string holds two commas (`m=19456,t=2,p=1`), so a hash written unquoted spreads
 * over three columns. The password is the last column and the joined tail must be a whole valid
 * hash, so putting it back together cannot swallow a mistake elsewhere in the row.
 */
function rejoinUnquotedHash(fields: string[]): string[] | undefined {
  const last = ACCOUNT_IMPORT_HEADER.length - 1;
  if (fields.length <= ACCOUNT_IMPORT_HEADER.length) return undefined;
  const tail = fields.slice(last).join(',');
  return ARGON2ID_PHC.test(tail) ? [...fields.slice(0, last), tail] : undefined;
}

type PasswordSpec = { kind: 'plain'; password: string } | { kind: 'hash'; hash: string } | { kind: 'none' };

/**
 * A valid argon2id PHC string whose hash is random bytes: verifying any password against it costs
 * the same as a real one (the login page's timing tells nothing) and no password matches it.
 */
export function unusablePasswordHash(): string {
  const b64 = (bytes: number) => randomBytes(bytes).toString('base64').replace(/=+$/, '');
  return `$argon2id$v=19$m=19456,t=2,p=1$${b64(16)}$${b64(32)}`;
}

function checkPasswordColumn(raw: string): { spec: PasswordSpec } | { error: Message } {
  if (raw === '') return { spec: { kind: 'none' } };
  if (LOOKS_LIKE_HASH.test(raw)) {
    if (!ARGON2ID_PHC.test(raw)) return { error: { key: 'cli.import.passwordHash' } };
    if (!argon2idCostsUsable(raw)) return { error: { key: 'cli.import.passwordHashCosts', params: { maxMemory: ARGON2ID_LIMITS.m.max, maxTime: ARGON2ID_LIMITS.t.max, maxParallelism: ARGON2ID_LIMITS.p.max } } };
    return { spec: { kind: 'hash', hash: raw } };
  }
  const policy = checkPasswordPolicy(raw);
  return policy ? { error: policy } : { spec: { kind: 'plain', password: raw } };
}

/** Calls onProgress every `step` units and once at the end, when the phase was long enough to report at all. */
function progressReporter(options: ImportOptions, phase: ImportPhase, step: number, total?: number) {
  const report = options.onProgress;
  let lastReported = 0;
  return {
    advance(done: number) {
      if (report && Math.floor(done / step) > Math.floor(lastReported / step)) {
        lastReported = done;
        report({ phase, done, total });
      }
    },
    finish(done: number) {
      if (report && done >= step && lastReported !== done) report({ phase, done, total });
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

function sortProblems(problems: ImportProblem[]): ImportProblem[] {
  // Stable sort: several problems of one line keep the order of the columns.
  return problems.sort((a, b) => a.line - b.line);
}

/**
 * Reads the header and hands every other record to `onRow`. A wrong header stops the import at once
 * (the columns cannot be interpreted); a source error becomes a problem and ends the reading.
 */
async function readRecords(
  records: AsyncIterable<ImportRecord>,
  header: readonly string[],
  problems: ImportProblem[],
  options: ImportOptions,
  onRow: (record: ImportRecord) => void,
  repair?: (fields: string[]) => string[] | undefined,
): Promise<number> {
  const progress = progressReporter(options, 'read', options.progressEvery ?? 10_000);
  let sawHeader = false;
  let rows = 0;
  try {
    for await (const record of records) {
      if (record.problem) {
        problems.push({ line: record.line, message: record.problem });
        // Without a readable header the columns cannot be interpreted: stop here.
        if (!sawHeader) throw new ImportError(problems);
        rows += 1;
        progress.advance(rows);
        continue;
      }
      if (!sawHeader) {
        sawHeader = true;
        const found = record.fields.map((field) => field.trim());
        if (found.length !== header.length || found.some((field, i) => field !== header[i])) {
          const expected = header.join(',');
          // A first line that is not made of column names is data (a missing header): it is not
          // echoed, as it may hold a password.
          const looksLikeNames = found.every((field) => /^[A-Za-z_ ;\t.-]{0,80}$/.test(field));
          const message: Message = looksLikeNames
            ? { key: 'cli.import.header', params: { expected, found: found.join(',') } }
            : { key: 'cli.import.noHeader', params: { expected } };
          throw new ImportError([{ line: record.line, message }]);
        }
        continue;
      }
      rows += 1;
      const fields = record.fields.length === header.length ? record.fields : (repair?.(record.fields) ?? record.fields);
      if (fields.length !== header.length) {
        problems.push({
          line: record.line,
          message: { key: 'cli.import.columnCount', params: { expected: header.length, found: record.fields.length } },
        });
      } else {
        onRow({ line: record.line, fields });
      }
      progress.advance(rows);
    }
  } catch (error) {
    if (!(error instanceof RecordSourceError)) throw error;
    problems.push({ line: error.line, message: error.problem });
  }
  if (!sawHeader && problems.length === 0) {
    throw new ImportError([{ line: 1, message: { key: 'cli.import.empty', params: { expected: header.join(',') } } }]);
  }
  progress.finish(rows);
  return rows;
}

/** Runs `work` over `items` with at most `concurrency` calls in flight; results keep the input order. */
async function mapBounded<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>, onDone: (done: number) => void): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function insertInBatches(
  trx: Knex.Transaction,
  table: string,
  rows: readonly Record<string, unknown>[],
  options: ImportOptions,
): Promise<void> {
  const progress = progressReporter(options, 'write', options.progressEvery ?? 10_000, rows.length);
  let written = 0;
  for (const batch of chunks(rows, options.batchSize ?? 500)) {
    await trx(table).insert(batch);
    written += batch.length;
    progress.advance(written);
  }
  progress.finish(written);
}

// ---------------------------------------------------------------------------------------------
// Accounts

interface PendingAccount {
  line: number;
  handle: string;
  email: string;
  name: string;
  locale: Locale;
  password: PasswordSpec;
}

/** Existing accounts among `handles`, as problems on the line that brings each. */
async function takenHandles(knex: Knex, firstLineOf: Map<string, number>): Promise<ImportProblem[]> {
  const problems: ImportProblem[] = [];
  for (const chunk of chunks([...firstLineOf.keys()], LOOKUP_CHUNK)) {
    const rows = (await knex('accounts').whereIn('handle', chunk).select('handle')) as { handle: string }[];
    for (const { handle } of rows) {
      problems.push({ line: firstLineOf.get(handle) ?? 0, field: 'handle', message: { key: 'errors.handle.taken', params: { handle } } });
    }
  }
  return problems;
}

/**
 * Imports accounts from records `handle,email,name,locale,password`. The password column holds a
 * plain-text password (policy enforced, hashed here), an argon2id PHC hash (stored as is), or
 * nothing (the account gets an unusable hash). Throws ImportError, writing nothing, on any problem.
 */
export async function importAccounts(records: AsyncIterable<ImportRecord>, options: ImportOptions): Promise<AccountImportSummary> {
  const problems: ImportProblem[] = [];
  const accounts: PendingAccount[] = [];
  const firstLineOf = new Map<string, number>();

  const rows = await readRecords(records, ACCOUNT_IMPORT_HEADER, problems, options, ({ line, fields }) => {
    const [rawHandle = '', rawEmail = '', rawName = '', rawLocale = '', rawPassword = ''] = fields;
    const rowProblems: ImportProblem[] = [];
    const handle = parseHandle(rawHandle, options.handleSuffix);
    if ('error' in handle) {
      rowProblems.push({ line, field: 'handle', message: handle.error });
    } else if (firstLineOf.has(handle.handle)) {
      const first = firstLineOf.get(handle.handle) as number;
      rowProblems.push({ line, field: 'handle', message: { key: 'cli.import.duplicateHandle', params: { handle: handle.handle, line: first } } });
    } else {
      firstLineOf.set(handle.handle, line);
    }
    const email = parseEmail(rawEmail);
    if ('error' in email) rowProblems.push({ line, field: 'email', message: email.error });
    const locale = rawLocale.trim() === '' ? 'en' : rawLocale.trim();
    if (!isLocale(locale)) rowProblems.push({ line, field: 'locale', message: { key: 'errors.locale' } });
    const password = checkPasswordColumn(rawPassword);
    if ('error' in password) rowProblems.push({ line, field: 'password', message: password.error });

    if (rowProblems.length > 0 || 'error' in handle || 'error' in email || 'error' in password || !isLocale(locale)) {
      problems.push(...rowProblems);
      return;
    }
    accounts.push({ line, handle: handle.handle, email: email.email, name: cleanDisplayName(rawName), locale, password: password.spec });
  }, rejoinUnquotedHash);

  problems.push(...(await takenHandles(options.knex, firstLineOf)));
  if (problems.length > 0) throw new ImportError(sortProblems(problems));

  // Hash before opening the transaction: on SQLite a write transaction blocks every other writer
  // (the web app) for as long as it is open.
  const plain = accounts.filter((account) => account.password.kind === 'plain');
  const hashProgress = progressReporter(options, 'hash', HASH_PROGRESS_EVERY, plain.length);
  const hashes = await mapBounded(
    plain,
    options.hashConcurrency ?? 4,
    (account) => hashPassword((account.password as { password: string }).password),
    (done) => hashProgress.advance(done),
  );
  hashProgress.finish(plain.length);
  const hashOf = new Map(plain.map((account, i) => [account, hashes[i] as string]));

  const at = (options.now ?? Date.now)();
  const inserts = accounts.map((account) => ({
    handle: account.handle,
    email: account.email,
    name: account.name,
    locale: account.locale,
    password_hash:
      account.password.kind === 'hash' ? account.password.hash : account.password.kind === 'plain' ? hashOf.get(account) : unusablePasswordHash(),
    created_at: at,
    updated_at: at,
  }));
  try {
    await options.knex.transaction((trx) => insertInBatches(trx, 'accounts', inserts, options));
  } catch (error) {
    // Someone created one of the handles since the check: name it like the check would have.
    if (isUniqueViolation(error)) {
      const taken = await takenHandles(options.knex, firstLineOf);
      if (taken.length > 0) throw new ImportError(sortProblems(taken));
    }
    throw error;
  }
  const kept = accounts.filter((account) => account.password.kind === 'hash').length;
  return { rows, hashed: plain.length, kept, locked: accounts.length - plain.length - kept };
}

// ---------------------------------------------------------------------------------------------
// Services

interface PendingService {
  line: number;
  name: string;
  searchName: string;
  type: ServiceType;
  contacts: Record<Role, string>;
}

/** Maps each known handle to its account id: one query per chunk of handles, not one per row. */
async function resolveHandles(knex: Knex, handles: Iterable<string>): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const chunk of chunks([...handles], LOOKUP_CHUNK)) {
    const rows = (await knex('accounts').whereIn('handle', chunk).select('id', 'handle')) as { id: number; handle: string }[];
    for (const row of rows) ids.set(row.handle, row.id);
  }
  return ids;
}

/** Imports services from records `name,type,admin,tech,billing` (the last three are handles). */
export async function importServices(records: AsyncIterable<ImportRecord>, options: ImportOptions): Promise<ServiceImportSummary> {
  const problems: ImportProblem[] = [];
  const services: PendingService[] = [];
  const handles = new Set<string>();

  const rows = await readRecords(records, SERVICE_IMPORT_HEADER, problems, options, ({ line, fields }) => {
    const [rawName = '', rawType = '', ...rawContacts] = fields;
    const rowProblems: ImportProblem[] = [];
    const name = checkServiceName(rawName);
    if ('error' in name) rowProblems.push({ line, field: 'name', message: name.error });
    const type = rawType.trim();
    if (!isServiceType(type)) rowProblems.push({ line, field: 'type', message: { key: 'errors.service.type' } });
    const contacts: Partial<Record<Role, string>> = {};
    ROLES.forEach((role, i) => {
      const handle = parseHandle(rawContacts[i], options.handleSuffix);
      if ('error' in handle) rowProblems.push({ line, field: role, message: handle.error });
      else contacts[role] = handle.handle;
    });
    if (rowProblems.length > 0 || 'error' in name || !isServiceType(type)) {
      problems.push(...rowProblems);
      return;
    }
    const complete = contacts as Record<Role, string>;
    for (const role of ROLES) handles.add(complete[role]);
    services.push({ line, name: name.name, searchName: name.searchName, type, contacts: complete });
  });

  const ids = await resolveHandles(options.knex, handles);
  for (const service of services) {
    for (const role of ROLES) {
      const handle = service.contacts[role];
      if (!ids.has(handle)) problems.push({ line: service.line, field: role, message: { key: 'errors.handle.unknown', params: { handle } } });
    }
  }
  if (problems.length > 0) throw new ImportError(sortProblems(problems));

  const at = (options.now ?? Date.now)();
  const inserts = services.map((service) => ({
    name: service.name,
    search_name: service.searchName,
    type: service.type,
    admin_id: ids.get(service.contacts.admin),
    tech_id: ids.get(service.contacts.tech),
    billing_id: ids.get(service.contacts.billing),
    created_at: at,
    updated_at: at,
  }));
  await options.knex.transaction(async (trx) => {
    await lockServiceCounts(trx, new Set(ids.values()));
    await insertInBatches(trx, 'services', inserts, options);
  });
  return { rows };
}

/**
 * PostgreSQL: locks the account_service_counts rows of `accountIds`, in account order, before the
 * import's first INSERT. The counts triggers lock the rows each INSERT touches in account order, but
 * only within that statement: two imports of several batches each over the same accounts (the
 * first batch of one and the second of the other naming the same account) would otherwise each
 * hold a row the other waits for, and one of them would fail as a deadlock. Locked up front, the
 * second import waits for the first to commit. The price: a web edit on one of these accounts
 * waits for the whole import instead of only its batches from that account on; imports are
 * operator work, and one of 500,000 services writes in seconds. SQLite needs nothing: its write
 * transactions take the database's one write lock when they begin (db/knex.ts).
 */
async function lockServiceCounts(trx: Knex.Transaction, accountIds: ReadonlySet<number>): Promise<void> {
  if (trx.client.config.client !== 'pg' || accountIds.size === 0) return;
  // FOR UPDATE, as the triggers lock these rows (so no upgrade later); counted, so no row travels back.
  await trx.raw(
    `SELECT count(*) FROM (SELECT 1 FROM account_service_counts WHERE account_id IN ${idList(trx)} ORDER BY account_id FOR UPDATE) AS locked`,
    [JSON.stringify([...accountIds])],
  );
}
