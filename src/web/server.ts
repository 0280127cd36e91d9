// Composition root of the web process.
import { loadConfig } from '../config.js';
import { createKnex, createReadKnex, migrateLatest } from '../db/knex.js';
import { createDomain } from '../domain/index.js';
import { createI18n } from '../i18n/index.js';
import { createLogger } from '../logger.js';
import { exitOnStartupError, onShutdown } from '../process-lifecycle.js';
import { createApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'web' });
  const knex = createKnex({ url: config.databaseUrl, client: config.databaseClient });
  // Knex's migration lock makes this safe when several processes start at once.
  await migrateLatest(knex);
  const reader = createReadKnex({ url: config.databaseUrl, client: config.databaseClient, connections: config.sqliteReadConnections }, knex);
  const domain = createDomain({ knex, reader, handleSuffix: config.handleSuffix, requestTtlMs: config.requestTtlMs });
  const app = createApp({ config, knex, domain, i18n: createI18n(), logger });
  const server = app.listen(config.port, () => {
    logger.info({ port: config.port, url: config.publicUrl }, `web listening on ${config.publicUrl}`);
    // Same condition as the mailbox's routes in app.ts.
    if (!config.smtpUrl && config.env !== 'production') {
      logger.warn(`the development mailbox ${config.publicUrl}/dev/mail shows every mail, codes included, without login: set SMTP_URL and NODE_ENV=production for any server others can reach`);
    }
  });
  onShutdown(async () => {
    logger.info('web stopping');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    if (reader !== knex) await reader.destroy();
    await knex.destroy();
  });
}

main().catch(exitOnStartupError);
