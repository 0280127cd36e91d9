// The CLI's composition root: config → knex (migrated) → domain. Opened only when a command needs
// the database, so `--help` and usage errors work without one.
import type { Knex } from 'knex';
import { loadConfig, type Config } from '../config.js';
import { createKnex, migrateLatest } from '../db/knex.js';
import { createDomain, type Domain } from '../domain/index.js';

export interface CliContext {
  config: Config;
  knex: Knex;
  domain: Domain;
  /** Migrations applied while opening (a fresh checkout gets its schema on the first command). */
  applied: string[];
}

export async function openContext(config: Config = loadConfig()): Promise<CliContext> {
  const knex = createKnex({ url: config.databaseUrl, client: config.databaseClient, poolMax: 2 });
  try {
    const applied = await migrateLatest(knex);
    return { config, knex, domain: createDomain({ knex, handleSuffix: config.handleSuffix, requestTtlMs: config.requestTtlMs }), applied };
  } catch (error) {
    await knex.destroy();
    throw error;
  }
}

/** Runs `work` with an open context and always releases the connections, so the process can exit. */
export async function withContext<T>(config: Config, work: (context: CliContext) => Promise<T>): Promise<T> {
  const context = await openContext(config);
  try {
    return await work(context);
  } finally {
    await context.knex.destroy();
  }
}
