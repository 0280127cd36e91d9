// Each test file gets a fresh, migrated database: a copy of a migrated SQLite template file, or
// (when TEST_DATABASE_URL is a postgres URL) a new PostgreSQL database cloned from a migrated template.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import type { DatabaseClient } from '../../src/config.js';
import { createKnex, migrateLatest } from '../../src/db/knex.js';

export interface TestDatabase {
  knex: Knex;
  url: string;
  client: DatabaseClient;
  /** Opens another, independent connection pool on the same database (e.g. a second worker). */
  connect(): Knex;
  /** Destroys `pool` (opened elsewhere on this database) with the database. */
  adopt(pool: Knex): void;
  destroy(): Promise<void>;
}

const postgresUrl = /^postgres(ql)?:\/\//.test(process.env.TEST_DATABASE_URL ?? '') ? process.env.TEST_DATABASE_URL : undefined;
export const testDatabaseClient: DatabaseClient = postgresUrl ? 'pg' : 'sqlite3';

const workDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-test-'));
process.once('exit', () => rmSync(workDir, { recursive: true, force: true }));
let counter = 0;
let template: Promise<string> | undefined;

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/' + name;
  return parsed.toString();
}

async function sqliteTemplate(): Promise<string> {
  const file = path.join(workDir, 'template.sqlite3');
  const knex = createKnex({ url: `sqlite:${file}`, client: 'sqlite3' });
  await migrateLatest(knex);
  // Fold the WAL into the main file so a plain file copy is complete.
  await knex.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  await knex.destroy();
  return file;
}

async function postgresTemplate(adminUrl: string): Promise<string> {
  const name = `cc_template_${process.pid}`;
  const admin = createKnex({ url: adminUrl, client: 'pg', poolMax: 1 });
  await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
  await admin.raw(`CREATE DATABASE ${name}`);
  await admin.destroy();
  const knex = createKnex({ url: withDatabase(adminUrl, name), client: 'pg', poolMax: 1 });
  await migrateLatest(knex);
  await knex.destroy();
  return name;
}

/** Called once at the end of the run (test/helpers/global-hooks.ts). */
export async function dropTemplateDatabase(): Promise<void> {
  if (!postgresUrl || !template) return;
  const name = await template;
  const admin = createKnex({ url: postgresUrl, client: 'pg', poolMax: 1 });
  await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.destroy();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  counter += 1;
  if (postgresUrl) {
    template ??= postgresTemplate(postgresUrl);
    const templateName = await template;
    const name = `cc_test_${process.pid}_${counter}`;
    const admin = createKnex({ url: postgresUrl, client: 'pg', poolMax: 1 });
    await admin.raw(`DROP DATABASE IF EXISTS ${name}`);
    await admin.raw(`CREATE DATABASE ${name} TEMPLATE ${templateName}`);
    const url = withDatabase(postgresUrl, name);
    const pools: Knex[] = [];
    const connect = (): Knex => {
      const knex = createKnex({ url, client: 'pg', poolMax: 5 });
      pools.push(knex);
      return knex;
    };
    return {
      knex: connect(),
      url,
      client: 'pg',
      connect,
      adopt: (pool) => void pools.push(pool),
      async destroy() {
        await Promise.all(pools.map((pool) => pool.destroy()));
        await admin.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.destroy();
      },
    };
  }
  template ??= sqliteTemplate();
  const templateFile = await template;
  const file = path.join(workDir, `test-${counter}.sqlite3`);
  copyFileSync(templateFile, file);
  const url = `sqlite:${file}`;
  const pools: Knex[] = [];
  const connect = (): Knex => {
    const knex = createKnex({ url, client: 'sqlite3' });
    pools.push(knex);
    return knex;
  };
  return {
    knex: connect(),
    url,
    client: 'sqlite3',
    connect,
    adopt: (pool) => void pools.push(pool),
    async destroy() {
      await Promise.all(pools.map((pool) => pool.destroy()));
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
}

/**
 * Resolves once `waiters` connections to this test's database wait for a row or lock that another
 * transaction holds (PostgreSQL: read from pg_locks), or after about 5 s. On SQLite a writer waits
 * inside BEGIN IMMEDIATE, where no query can see it: this resolves after `sqliteDelayMs` instead.
 * Resolves true when the waiters were seen (PostgreSQL only).
 */
export async function untilALockIsAwaited(db: TestDatabase, sqliteDelayMs: number, waiters = 1): Promise<boolean> {
  if (db.client !== 'pg') return new Promise((resolve) => setTimeout(() => resolve(false), sqliteDelayMs));
  for (let tries = 0; tries < 500; tries += 1) {
    const waiting = (await db.knex.raw(
      `SELECT count(DISTINCT l.pid) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`,
    )) as { rows: { n: string }[] };
    if (Number(waiting.rows[0]?.n) >= waiters) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}
