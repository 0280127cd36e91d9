// `npm run seed`: fills an empty database with the demo accounts and services and prints the logins.
// A database that already has accounts is left alone (exit code 0), so running it twice is harmless.
import { loadConfig } from '../config.js';
import { seedDemo } from '../db/seeds/demo.js';
import { withContext } from './context.js';
import { createTranslate, EXIT_OK, formatTable, processIo, reportError, type Io } from './output.js';
import { languageFromArgv } from './program.js';

export async function runSeed(argv: readonly string[], io: Io = processIo): Promise<number> {
  const t = createTranslate(languageFromArgv(argv));
  let debug = argv.includes('--debug');
  try {
    const config = loadConfig();
    debug ||= config.logLevel === 'debug' || config.logLevel === 'trace';
    return await withContext(config, async ({ knex, domain, applied }) => {
      if (applied.length > 0) io.err(t('cli.migrated', { migrations: applied.length }));
      const result = await seedDemo(knex, { handleSuffix: config.handleSuffix, now: domain.now });
      if (!result.seeded) {
        io.out(t('cli.seed.notEmpty'));
        return EXIT_OK;
      }
      io.out(t('cli.seed.done', { accounts: result.accounts.length, services: result.services }));
      io.out('');
      io.out(t('cli.seed.logins', { url: `${config.publicUrl}/login` }));
      const headers = ['handle', 'password', 'name', 'roles'].map((column) => t(`cli.seed.columns.${column}`));
      const rows = result.accounts.map((account) => [
        account.handle,
        account.password,
        account.name + (account.locale === 'pt' ? ' (pt)' : '') + (account.billingOverdue ? ` — ${t('cli.seed.overdue')}` : ''),
        t('cli.seed.roles', account.roles),
      ]);
      for (const line of formatTable(headers, rows)) io.out(line);
      return EXIT_OK;
    });
  } catch (error) {
    return reportError(error, io, t, { debug });
  }
}

process.exitCode = await runSeed(process.argv.slice(2));
