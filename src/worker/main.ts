// Composition root of the worker process. Jobs arrive with the worker issue; until then it idles.
import { loadConfig } from '../config.js';
import { createKnex, migrateLatest } from '../db/knex.js';
import { createLogger } from '../logger.js';
import { exitOnStartupError, onShutdown } from '../process-lifecycle.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  const knex = createKnex({ url: config.databaseUrl, client: config.databaseClient });
  await migrateLatest(knex);
  logger.info('worker idle: no jobs registered yet');
  const keepAlive = setInterval(() => undefined, 60_000);
  onShutdown(async () => {
    clearInterval(keepAlive);
    await knex.destroy();
  });
}

main().catch(exitOnStartupError);
