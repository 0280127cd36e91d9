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
  return knexFactory(knexConfig(options));
}

export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  return applied;
}
