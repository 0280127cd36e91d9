import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseClient } from '../config.js';

export const migrationsDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

// Timestamps are stored as epoch milliseconds in BIGINT columns so both databases compare
// and return them the same way; node-pg returns INT8 as a string unless told otherwise.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number.parseInt(value, 10));

export interface DatabaseOptions {
  url: string;
  client: DatabaseClient;
  poolMax?: number;
  /**
   * SQLite only: connections that refuse every write (PRAGMA query_only), pooled up to poolMax
   * (default 2). A writing pool holds one connection whatever poolMax says: see knexConfig.
   */
  readOnly?: boolean;
}

export function sqliteFilename(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/, '');
}

/**
 * `compileSqlOnError: false` (both databases): a failed query's error message, which ends up in the
 * logs, names the SQL with its `?` placeholders instead of the values written into it: tokens'
 * hashes, addresses, names, and for an outbox INSERT hundreds of KB of mail payloads.
 */
export function knexConfig({ url, client, poolMax, readOnly = false }: DatabaseOptions): Knex.Config {
  const migrations: Knex.MigratorConfig = {
    directory: migrationsDirectory,
    loadExtensions: ['.ts'],
    tableName: 'knex_migrations',
  };
  if (client === 'sqlite3') {
    const filename = sqliteFilename(url);
    if (filename !== ':memory:') mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
    return {
      client: 'sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      compileSqlOnError: false,
      migrations,
      pool: {
        // One writing connection per process: its writes then queue first come, first served in
        // knex's pool, not in SQLite's busy handler (which polls, unordered, and gives up after
        // the busy timeout), and one session's save and destroy cannot overtake each other.
        // Read-only connections (WAL readers) can be many: they never wait for the writer.
        min: 1,
        max: readOnly ? (poolMax ?? 2) : 1,
        // WAL lets the web and worker processes read while the other writes; the busy timeout
        // makes a writer wait for the lock instead of failing with SQLITE_BUSY.
        afterCreate(conn: { run: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) {
          // The busy timeout first: switching to WAL may itself have to wait for another process.
          conn.run('PRAGMA busy_timeout = 10000', (busyError) => {
            if (busyError) return done(busyError, conn);
            conn.run('PRAGMA journal_mode = WAL', (walError) => {
              if (walError) return done(walError, conn);
              conn.run('PRAGMA foreign_keys = ON', (fkError) => {
                if (fkError) return done(fkError, conn);
                conn.run('PRAGMA synchronous = NORMAL', (syncError) => {
                  if (syncError || !readOnly) return done(syncError, conn);
                  conn.run('PRAGMA query_only = ON', (readOnlyError) => done(readOnlyError, conn));
                });
              });
            });
          });
        },
      },
    };
  }
  return { client: 'pg', connection: url, migrations, compileSqlOnError: false, pool: { min: 0, max: poolMax ?? 10 } };
}

export function createKnex(options: DatabaseOptions): Knex {
  const config = knexConfig(options);
  return knexFactory(options.client === 'sqlite3' ? { ...config, client: SqliteClient as unknown as typeof knexFactory.Client } : config);
}

/**
 * The pool a process's hot reads (the contacts list) run on. On SQLite, `connections` read-only
 * connections beside the one writing connection, so such reads run on their own threads instead of
 * waiting behind each other and behind writes (WAL readers see every committed write); with 0,
 * the writing pool itself. On PostgreSQL the writing pool, whose connections already run side by
 * side. Also the writing pool for a SQLite database that lives only in its connection (in memory,
 * or a temporary one for an empty name), which another connection would not see. No transaction
 * may run on a read-only pool: every SQLite transaction here begins with BEGIN IMMEDIATE, a write.
 * The caller destroys the pool it gets back when it is not `writer`.
 */
export function createReadKnex(options: Omit<DatabaseOptions, 'readOnly' | 'poolMax'> & { connections: number }, writer: Knex): Knex {
  if (options.client !== 'sqlite3' || options.connections === 0 || isPrivateSqliteDatabase(options.url)) return writer;
  return createKnex({ url: options.url, client: options.client, readOnly: true, poolMax: options.connections });
}

/** A SQLite database no second connection can open: in memory, or temporary (an empty name). */
function isPrivateSqliteDatabase(url: string): boolean {
  const filename = sqliteFilename(url);
  return filename === '' || filename.includes(':memory:') || /[?&]mode=memory\b/.test(filename);
}

/** Prepared statements kept per SQLite connection, least recently used first. */
export const STATEMENT_CACHE_SIZE = 100;
/** Longer statements (bulk INSERTs with many placeholders) are rarely run twice alike: not kept. */
const CACHED_SQL_MAX_LENGTH = 10_000;
/** knex names each savepoint anew (trx12, trx13, …): such statements would only push others out. */
const SAVEPOINT_SQL = /^\s*(SAVEPOINT|RELEASE|ROLLBACK TO)\b/i;

interface SqliteStatement {
  all(params: unknown[], callback: (this: unknown, error: Error | null, rows: unknown[]) => void): void;
  finalize(callback?: () => void): void;
}
interface SqliteConnection {
  prepare(sql: string, callback: (error: Error | null) => void): SqliteStatement;
  statementCache?: Map<string, SqliteStatement>;
}
interface KnexQueryObject {
  sql: string;
  bindings?: unknown[];
  method?: string;
  returning?: unknown;
  response?: unknown;
  context?: unknown;
}
interface KnexTransaction {
  begin(connection: unknown): Promise<unknown>;
  query(connection: unknown, sql: string): Promise<unknown>;
}
/** The parts of knex's own SQLite client (knex/lib/dialects/sqlite3) that SqliteClient changes. */
interface KnexSqliteClient {
  _query(connection: SqliteConnection, obj: KnexQueryObject): Promise<KnexQueryObject>;
  destroyRawConnection(connection: SqliteConnection): Promise<void>;
  transaction(...args: unknown[]): KnexTransaction;
}
const KnexSqlite3Client = createRequire(import.meta.url)('knex/lib/dialects/sqlite3') as new (config: Knex.Config) => KnexSqliteClient;

/**
 * knex's SQLite client with two changes. A subclass rather than patches on one instance: knex
 * builds each transaction's client from the class's prototype.
 */
class SqliteClient extends KnexSqlite3Client {
  constructor(config: Knex.Config) {
    // The rest of the code tells the databases apart by config.client.
    super({ ...config, client: 'sqlite3' });
  }

  /**
   * SQLite transactions start as readers (BEGIN is DEFERRED) and become writers at their first
   * write. When another connection (the worker, a second web process) has committed a write since
   * the transaction's first read, that upgrade fails at once with SQLITE_BUSY; the busy timeout
   * does not apply to it. Every transaction here writes, so each takes the write lock when it
   * begins (BEGIN IMMEDIATE), where the busy timeout does make it wait its turn. Nested
   * transactions (savepoints) are not affected.
   */
  override transaction(...args: unknown[]): KnexTransaction {
    const transaction = super.transaction(...args);
    // Knex calls begin() once it holds a connection, always after this returns.
    transaction.begin = (connection: unknown) => transaction.query(connection, 'BEGIN IMMEDIATE;');
    return transaction;
  }

  /**
   * knex runs every query on SQLite as `Database#all`/`#run`, which prepares the statement and runs
   * it (two trips to the driver's thread pool) and then finalizes it, where a kept statement needs
   * one trip: a one-row read takes 0.08 instead of 0.2 ms in the driver, 0.19 instead of 0.42 ms
   * through knex. Statements read with `all` (selects, raw queries, INSERT … RETURNING) are
   * therefore prepared once per connection and kept; writes that knex reads `lastID`/`changes`
   * from still go through `run`, and so do the savepoint statements of nested transactions, whose
   * names are new each time. A kept statement holds no lock between runs: it has run to completion
   * (SQLITE_DONE) or, after an error, is dropped.
   */
  override async _query(connection: SqliteConnection, obj: KnexQueryObject): Promise<KnexQueryObject> {
    // The same choice of method as knex's own _query: these go through `run`.
    const runs = obj.method === 'counter' || obj.method === 'del' || ((obj.method === 'insert' || obj.method === 'update') && !obj.returning);
    if (runs || !obj.sql || obj.sql.length > CACHED_SQL_MAX_LENGTH || SAVEPOINT_SQL.test(obj.sql)) return super._query(connection, obj);
    const cache = (connection.statementCache ??= new Map());
    let statement = cache.get(obj.sql);
    if (statement) cache.delete(obj.sql);
    else statement = await prepare(connection, obj.sql);
    // (Re)inserted last: the Map's order is the order of use. Of two concurrent first runs of one
    // statement (inside a transaction), each prepares it and the second copy is not kept.
    if (!cache.has(obj.sql)) cache.set(obj.sql, statement);
    while (cache.size > STATEMENT_CACHE_SIZE) {
      const [oldest, old] = cache.entries().next().value as [string, SqliteStatement];
      cache.delete(oldest);
      // The driver finalizes it after any run already queued on it.
      void dispose(old);
    }
    const used = statement;
    return new Promise<KnexQueryObject>((resolve, reject) => {
      used.all(obj.bindings ?? [], function (this: unknown, error: Error | null, rows: unknown[]) {
        // After an error the statement is not trusted again.
        if (error && cache.get(obj.sql) === used) cache.delete(obj.sql);
        if (cache.get(obj.sql) !== used) void dispose(used);
        if (error) return reject(error);
        obj.response = rows;
        obj.context = this;
        resolve(obj);
      });
    });
  }

  /** sqlite3_close refuses to close a connection that still has statements. */
  override async destroyRawConnection(connection: SqliteConnection): Promise<void> {
    const statements = [...(connection.statementCache?.values() ?? [])];
    connection.statementCache?.clear();
    await Promise.all(statements.map(dispose));
    return super.destroyRawConnection(connection);
  }
}

const disposed = new WeakSet<SqliteStatement>();

/**
 * Finalizes a statement once. (The driver answers a second finalize with an 'error' event, which
 * without a callback to take it would end the process.)
 */
function dispose(statement: SqliteStatement): Promise<void> {
  if (disposed.has(statement)) return Promise.resolve();
  disposed.add(statement);
  return new Promise((resolve) => statement.finalize(() => resolve()));
}

function prepare(connection: SqliteConnection, sql: string): Promise<SqliteStatement> {
  return new Promise((resolve, reject) => {
    const statement = connection.prepare(sql, (error) => (error ? reject(error) : resolve(statement)));
  });
}

export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  return applied;
}
