// Seeds a large database for the benchmark: 100,000 accounts and 1,000,000 services (times
// BENCH_SCALE), one account holding 10,000 of them. Batched multi-row INSERTs whose SQL knex builds
// once per table and batch size and which are then run with new bindings. Three transactions
// (accounts, services, pending requests); on PostgreSQL the services in one per
// SERVICES_PER_TRANSACTION (see there).
//
//   tsx bench/seed-large.ts            seeds a fresh database and prints its URL (kept)
import type { Knex } from 'knex';
import { migrateLatest } from '../src/db/knex.js';
import { hashPassword } from '../src/domain/passwords.js';
import { newToken } from '../src/domain/tokens.js';
import { foldForSearch } from '../src/domain/search-text.js';
import { ROLES, SERVICE_TYPES, type Role } from '../src/domain/roles.js';
import { createBenchDatabase, progress, prng, scaled } from './lib.js';

export const BENCH_PASSWORD = 'bench-password-correct-horse';

export interface SeedSizes {
  accounts: number;
  services: number;
  /** Services on which the big account holds at least one role. */
  bigServices: number;
}

export function seedSizes(): SeedSizes {
  const accounts = scaled(100_000, 50);
  const services = scaled(1_000_000, 500);
  const bigServices = Math.min(scaled(10_000, 100), Math.floor(services / 2));
  return { accounts, services, bigServices };
}

export interface SeedInfo extends SeedSizes {
  /** The account holding `bigServices` services (id 1). */
  bigAccountId: number;
  bigHandle: string;
  password: string;
  /** Every `step`-th service (1-based id ≡ 0 mod step) belongs to the big account. */
  step: number;
  /** A search term and how many of the big account's services match it. */
  search: string;
  searchMatches: number;
  pendingRequests: number;
  seconds: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
export function handleOf(id: number): string {
  return `${LETTERS[id % 26]}${LETTERS[Math.floor(id / 26) % 26]}${String(id).padStart(6, '0')}-ovh`;
}

const WORDS = [
  'alpha', 'atlas', 'blue', 'bright', 'cloud', 'coral', 'delta', 'eagle', 'ember', 'fast', 'forest', 'gamma',
  'green', 'harbor', 'iron', 'jade', 'kilo', 'lunar', 'maple', 'metro', 'nova', 'ocean', 'orbit', 'pixel',
  'quartz', 'rapid', 'river', 'shop', 'silver', 'solar', 'stone', 'summit', 'terra', 'union', 'vector', 'wave',
];
const TLDS = ['com', 'net', 'org', 'pt', 'eu', 'io', 'fr', 'de'];

export function serviceName(index: number, random: () => number): string {
  const a = WORDS[Math.floor(random() * WORDS.length)] as string;
  const b = WORDS[Math.floor(random() * WORDS.length)] as string;
  return `${a}${b}-${index.toString(36)}.${TLDS[index % TLDS.length]}`;
}

/** Which roles the big account holds on its n-th service: a mix of single and combined roles. */
export function bigRoles(n: number): Role[] {
  switch (n % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return ['admin'];
    case 4:
      return ['admin', 'tech', 'billing'];
    case 5:
    case 6:
      return ['tech'];
    case 7:
    case 8:
      return ['billing'];
    default:
      return ['admin', 'billing'];
  }
}

type Row = Record<string, string | number | boolean | null>;

/**
 * Inserts rows in multi-row statements of `batch` rows. The SQL is built by knex once per
 * statement size (it depends only on the columns and the row count) and reused with the next
 * rows' bindings, so knex's query building is not paid per batch.
 */
export async function bulkInsert(trx: Knex.Transaction, table: string, rows: Iterable<Row>, batch: number): Promise<number> {
  const sqlBySize = new Map<number, string>();
  let columns: string[] | undefined;
  let pending: Row[] = [];
  let count = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    let sql = sqlBySize.get(pending.length);
    if (!sql) {
      sql = trx(table).insert(pending).toSQL().sql;
      sqlBySize.set(pending.length, sql);
    }
    const cols = columns as string[];
    const bindings = new Array<unknown>(pending.length * cols.length);
    let k = 0;
    for (const row of pending) for (const column of cols) bindings[k++] = row[column] ?? null;
    await trx.raw(sql, bindings as Knex.RawBinding[]);
    count += pending.length;
    pending = [];
  };
  for (const row of rows) {
    // knex orders insert columns alphabetically; the bindings must follow the same order.
    columns ??= Object.keys(row).sort();
    pending.push(row);
    if (pending.length >= batch) await flush();
  }
  await flush();
  return count;
}

/**
 * The services' triggers give each of their contacts' counts rows a new version per INSERT
 * (migrations 20261124050100 and 20261125010100). On PostgreSQL every such UPDATE leaves the old
 * row version behind, and versions left by a transaction still running cannot be cleaned up: in
 * one transaction, the 267 statements of a million services left the counts table ~60 times its
 * size, every statement's UPDATE read through all of it, and the seed took 375 s instead of about
 * a minute and a half. Committing every SERVICES_PER_TRANSACTION rows and vacuuming the counts
 * table in between keeps it small. SQLite updates rows in place and has no such problem, but its
 * commits write back the pages the next chunk changes again (37 s became 42 s): one transaction
 * for all its services.
 */
const SERVICES_PER_TRANSACTION = 50_000;

/** The rows of `rows` in arrays of up to `size`, read from the iterator one array at a time. */
function* chunksOf<T>(rows: Iterable<T>, size: number): Generator<T[]> {
  let chunk: T[] = [];
  for (const row of rows) {
    chunk.push(row);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Rows per INSERT: SQLite's compound SELECT (knex's multi-row form) allows at most 500 terms. */
export function batchSize(knex: Knex, columns: number): number {
  if (knex.client.config.client === 'pg') return Math.floor(30_000 / columns);
  return 500;
}

export async function seedLarge(
  knex: Knex,
  sizes: SeedSizes = seedSizes(),
  /** servicesPerTransaction: PostgreSQL only (SQLite writes all services in one transaction). */
  options: { servicesPerTransaction?: number } = {},
): Promise<SeedInfo> {
  const started = Date.now();
  const postgres = knex.client.config.client === 'pg';
  const passwordHash = await hashPassword(BENCH_PASSWORD);
  const at = Date.now();
  const step = Math.floor(sizes.services / sizes.bigServices);
  const random = prng(42);
  const search = 'shop';
  let searchMatches = 0;
  const otherAccount = () => 2 + Math.floor(random() * (sizes.accounts - 1));

  const pendingRows: { serviceId: number; adminId: number; techId: number; toId: number }[] = [];

  // A large page cache keeps the services' contact indexes in memory while they grow (this
  // connection only; the pool of one is destroyed with this process' knex).
  if (!postgres) await knex.raw('PRAGMA cache_size = -524288');

  await knex.transaction(async (trx) => {
    progress(`seeding ${sizes.accounts} accounts`);
    function* accounts(): Generator<Row> {
      for (let id = 1; id <= sizes.accounts; id += 1) {
        const handle = handleOf(id);
        yield {
          handle,
          email: `${handle}@example.test`,
          name: id === 1 ? 'Big Customer' : `Customer ${id}`,
          locale: id % 10 === 3 ? 'pt' : 'en',
          password_hash: passwordHash,
          billing_overdue_since: null,
          created_at: at,
          updated_at: at,
        };
      }
    }
    await bulkInsert(trx, 'accounts', accounts(), batchSize(trx, 8));
  });

  progress(`seeding ${sizes.services} services (${sizes.bigServices} of them for ${handleOf(1)})`);
  function* services(): Generator<Row> {
    for (let id = 1; id <= sizes.services; id += 1) {
      const name = serviceName(id, random);
      const type = SERVICE_TYPES[id % SERVICE_TYPES.length] as string;
      let admin = otherAccount();
      let tech = otherAccount();
      let billing = otherAccount();
      if (id % step === 0 && id / step <= sizes.bigServices) {
        const n = id / step;
        const roles = bigRoles(n);
        if (roles.includes('admin')) admin = 1;
        if (roles.includes('tech')) tech = 1;
        if (roles.includes('billing')) billing = 1;
        if (name.includes(search)) searchMatches += 1;
        // Every 50th of the big account's services has a pending request on its technical contact.
        if (n % 50 === 7) pendingRows.push({ serviceId: id, adminId: admin, techId: tech, toId: otherAccount() });
      }
      yield { name, search_name: foldForSearch(name), type, admin_id: admin, tech_id: tech, billing_id: billing, created_at: at, updated_at: at };
      if (id % 250_000 === 0) progress(`  ${id} services`);
    }
  }
  if (postgres) {
    for (const chunk of chunksOf(services(), options.servicesPerTransaction ?? SERVICES_PER_TRANSACTION)) {
      await knex.transaction((trx) => bulkInsert(trx, 'services', chunk, batchSize(trx, 8)));
      await knex.raw('VACUUM account_service_counts');
    }
  } else {
    await knex.transaction((trx) => bulkInsert(trx, 'services', services(), batchSize(trx, 8)));
  }

  await knex.transaction(async (trx) => {
    progress(`seeding ${pendingRows.length} pending requests`);
    await insertPendingRequests(
      trx,
      pendingRows.map((row) => ({
        serviceId: row.serviceId,
        requesterId: row.adminId,
        fromId: row.techId,
        // Someone other than the outgoing contact (the next account, or the first other one after the last).
        toId: row.toId !== row.techId ? row.toId : row.toId === sizes.accounts ? 2 : row.toId + 1,
        roles: ['tech'],
        createdAt: at,
        expiresAt: at + 7 * 24 * 3600_000,
      })),
    );
  });
  progress('analyzing');
  if (postgres) {
    // As autovacuum would after a bulk load: statistics, and the visibility map that lets the
    // contacts list use index-only scans.
    await knex.raw('VACUUM ANALYZE');
  } else {
    await knex.raw('PRAGMA wal_checkpoint(TRUNCATE)');
    await knex.raw('ANALYZE');
  }
  const maxId = Number(((await knex('services').max({ m: 'id' }).first()) as { m: number | string }).m);
  if (maxId !== sizes.services) throw new Error(`expected service ids 1..${sizes.services}, got max ${maxId}`);
  const seconds = (Date.now() - started) / 1000;
  return {
    ...sizes,
    bigAccountId: 1,
    bigHandle: handleOf(1),
    password: BENCH_PASSWORD,
    step,
    search,
    searchMatches,
    pendingRequests: pendingRows.length,
    seconds,
  };
}

export interface PendingRequestInput {
  serviceId: number;
  requesterId: number;
  fromId: number;
  toId: number;
  roles: Role[];
  createdAt: number;
  expiresAt: number;
}

/**
 * Inserts pending requests directly (change_requests + request_roles + request_parties), the way
 * ChangeRequestService.submit leaves them: parties R and T, or R and F when R is T. Returns the ids.
 */
export async function insertPendingRequests(trx: Knex.Transaction, requests: PendingRequestInput[], options: { hashTokens?: boolean } = {}): Promise<number[]> {
  if (requests.length === 0) return [];
  const postgres = trx.client.config.client === 'pg';
  const firstRow = (await trx('change_requests').max({ m: 'id' }).first()) as { m: number | string | null } | undefined;
  const firstId = Number(firstRow?.m ?? 0) + 1;
  const ids = requests.map((_, i) => firstId + i);
  await bulkInsert(
    trx,
    'change_requests',
    requests.map((r, i) => ({
      id: ids[i] as number,
      service_id: r.serviceId,
      requester_id: r.requesterId,
      from_account_id: r.fromId,
      to_account_id: r.toId,
      roles: ROLES.filter((role) => r.roles.includes(role)).join(','),
      state: 'pending',
      failure_reason: null,
      created_at: r.createdAt,
      expires_at: r.expiresAt,
      decided_at: null,
      reminded_at: null,
    })),
    batchSize(trx, 12),
  );
  if (postgres) await trx.raw(`SELECT setval(pg_get_serial_sequence('change_requests', 'id'), ?)`, [firstId + requests.length - 1]);
  function* roles(): Generator<Row> {
    for (let i = 0; i < requests.length; i += 1) {
      const r = requests[i] as PendingRequestInput;
      for (const role of r.roles) yield { request_id: ids[i] as number, service_id: r.serviceId, role, active: true };
    }
  }
  await bulkInsert(trx, 'request_roles', roles(), batchSize(trx, 4));
  // Real token hashes cost a SHA-256 each; the sweep only ever clears them, so a fixed one will do.
  const fixedHash = options.hashTokens === false ? 'f'.repeat(64) : undefined;
  function* parties(): Generator<Row> {
    for (let i = 0; i < requests.length; i += 1) {
      const r = requests[i] as PendingRequestInput;
      const other = r.requesterId === r.toId ? r.fromId : r.toId;
      for (const accountId of [r.requesterId, other]) {
        yield { request_id: ids[i] as number, account_id: accountId, token_hash: fixedHash ?? newToken().hash, token_issued_at: r.createdAt, decision: null, decided_at: null };
      }
    }
  }
  await bulkInsert(trx, 'request_parties', parties(), batchSize(trx, 6));
  function* events(): Generator<Row> {
    for (let i = 0; i < requests.length; i += 1) {
      const r = requests[i] as PendingRequestInput;
      yield { request_id: ids[i] as number, event: 'created', from_state: null, to_state: 'pending', actor_id: r.requesterId, ip: null, at: r.createdAt };
    }
  }
  await bulkInsert(trx, 'request_events', events(), batchSize(trx, 7));
  return ids;
}

async function main(): Promise<void> {
  const database = await createBenchDatabase();
  const knex = database.connect();
  await migrateLatest(knex);
  const info = await seedLarge(knex);
  await knex.destroy();
  progress(`seeded in ${info.seconds.toFixed(1)} s`);
  process.stdout.write(`${database.url}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
