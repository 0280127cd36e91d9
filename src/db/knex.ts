import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
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
}

export function sqliteFilename(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/, '');
}

export function knexConfig({ url, client, poolMax }: DatabaseOptions): Knex.Config {
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
      migrations,
      pool: {
        min: 1,
        max: 1,
        // WAL lets the web and worker processes read while the other writes; the busy timeout
        // makes a writer wait for the lock instead of failing with SQLITE_BUSY.
        afterCreate(conn: { run: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) {
          conn.run('PRAGMA journal_mode = WAL', (walError) => {
            if (walError) return done(walError, conn);
            conn.run('PRAGMA busy_timeout = 10000', (busyError) => {
              if (busyError) return done(busyError, conn);
              conn.run('PRAGMA foreign_keys = ON', (fkError) => {
                if (fkError) return done(fkError, conn);
                conn.run('PRAGMA synchronous = NORMAL', (syncError) => done(syncError, conn));
              });
            });
          });
        },
      },
    };
  }
  return { client: 'pg', connection: url, migrations, pool: { min: 0, max: poolMax ?? 10 } };
}

export function createKnex(options: DatabaseOptions): Knex {
  const knex = knexFactory(knexConfig(options));
  if (options.client === 'sqlite3') beginImmediately(knex);
  return knex;
}

/**
 * SQLite transactions start as readers (BEGIN is DEFERRED) and become writers at their first
 * write. When another connection (the worker, a second web process) has committed a write since
 * the transaction's first read, that upgrade fails at once with SQLITE_BUSY; the busy timeout does
 * not apply to it. Every transaction here writes, so each takes the write lock when it begins
 * (BEGIN IMMEDIATE), where the busy timeout does make it wait its turn. Nested transactions
 * (savepoints) are not affected.
 */
function beginImmediately(knex: Knex): void {
  type SqliteTransaction = { begin(conn: unknown): Promise<unknown>; query(conn: unknown, sql: string): Promise<unknown> };
  const client = knex.client as { transaction: (...args: unknown[]) => SqliteTransaction };
  const create = client.transaction.bind(client);
  client.transaction = (...args: unknown[]) => {
    const transaction = create(...args);
    // Knex calls begin() once it holds a connection, always after this returns.
    transaction.begin = (conn: unknown) => transaction.query(conn, 'BEGIN IMMEDIATE;');
    return transaction;
  };
}

export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  return applied;
}
