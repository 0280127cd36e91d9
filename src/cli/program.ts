// The commander program: options, translated help, and the mapping of every outcome to an exit
// code (0 ok, 1 failure, 2 bad usage). Commander's own English error text is replaced by ours.
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type Config } from '../config.js';
import type { Language } from '../i18n/index.js';
import {
  listMailTable,
  retryMailCommand,
  addAccount,
  addService,
  importAccountsFile,
  importServicesFile,
  listRequestsTable,
  setBilling,
  setPassword,
  type CommandEnv,
} from './commands.js';
import { withContext } from './context.js';
import { assertReadable } from './csv.js';
import { createTranslate, EXIT_OK, EXIT_USAGE, processIo, reportError, UsageError, type Io, type Translate } from './output.js';

/**
 * The language has to be known before the commands are defined (their help is translated), so
 * `--lang` is picked out of argv ahead of commander, which then checks and otherwise ignores it.
 */
export function languageFromArgv(argv: readonly string[]): Language {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    const value = arg === '--lang' ? argv[i + 1] : arg.startsWith('--lang=') ? arg.slice('--lang='.length) : undefined;
    if (value !== undefined) return value.toLowerCase().startsWith('pt') ? 'pt-PT' : 'en';
  }
  return 'en';
}

// Commander error codes we explain in the operator's language; others keep commander's text.
const USAGE_KEYS: Record<string, string> = {
  'commander.missingMandatoryOptionValue': 'cli.usage.missingOption',
  'commander.optionMissingArgument': 'cli.usage.optionMissingArgument',
  'commander.missingArgument': 'cli.usage.missingArgument',
  'commander.unknownOption': 'cli.usage.unknownOption',
  'commander.unknownCommand': 'cli.usage.unknownCommand',
  'commander.excessArguments': 'cli.usage.excessArguments',
  'commander.invalidArgument': 'cli.usage.invalidArgument',
  'commander.conflictingOption': 'cli.usage.conflictingOption',
};

function usageFromCommander(error: CommanderError): UsageError {
  const key = USAGE_KEYS[error.code];
  // Commander quotes the offending option, argument or command first: '--handle <handle>'.
  const name = /'([^']+)'/.exec(error.message)?.[1];
  if (key && name) return new UsageError({ key, params: { name } });
  return new UsageError({ key: 'cli.usage.other', params: { detail: error.message.replace(/^error:\s*/, '') } });
}

export interface RunOptions {
  io?: Io;
  loadConfig?: () => Config;
}

export async function runCli(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const io = options.io ?? processIo;
  const t: Translate = createTranslate(languageFromArgv(argv));
  let debug = argv.includes('--debug');
  let file: string | undefined;

  /** Opens the database (running pending migrations), runs the command, closes the database. */
  const withDatabase = async (work: (env: CommandEnv) => Promise<void>): Promise<void> => {
    const config = (options.loadConfig ?? loadConfig)();
    debug ||= config.logLevel === 'debug' || config.logLevel === 'trace';
    await withContext(config, async (context) => {
      if (context.applied.length > 0) io.err(t('cli.migrated', { migrations: context.applied.length }));
      await work({ context, io, t });
    });
  };

  const program = new Command('cli')
    .description(t('cli.description'))
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .helpOption('-h, --help', t('cli.options.help'))
    .helpCommand('help [command]', t('cli.options.helpCommand'))
    .addOption(new Option('--lang <language>', t('cli.options.lang')).choices(['en', 'pt', 'pt-PT']))
    .option('--debug', t('cli.options.debug'))
    .showSuggestionAfterError(false);

  program
    .command('accounts:add')
    .description(t('cli.commands.accountsAdd'))
    .requiredOption('--handle <handle>', t('cli.options.handle'))
    .requiredOption('--email <email>', t('cli.options.email'))
    .requiredOption('--password <password>', t('cli.options.password'))
    .option('--name <name>', t('cli.options.name'))
    .option('--locale <locale>', t('cli.options.locale'))
    .action((opts: { handle: string; email: string; password: string; name?: string; locale?: string }) =>
      withDatabase((env) => addAccount(env, opts)),
    );

  program
    .command('accounts:import')
    .description(t('cli.commands.accountsImport'))
    .argument('<file>', t('cli.options.accountsFile'))
    .action(async (path: string) => {
      file = path;
      await assertReadable(path);
      await withDatabase((env) => importAccountsFile(env, path));
    });

  program
    .command('accounts:password')
    .description(t('cli.commands.accountsPassword'))
    .requiredOption('--handle <handle>', t('cli.options.handle'))
    .requiredOption('--password <password>', t('cli.options.password'))
    .action((opts: { handle: string; password: string }) => withDatabase((env) => setPassword(env, opts)));

  program
    .command('accounts:billing')
    .description(t('cli.commands.accountsBilling'))
    .requiredOption('--handle <handle>', t('cli.options.handle'))
    .option('--overdue', t('cli.options.overdue'))
    .option('--ok', t('cli.options.ok'))
    .action(async (opts: { handle: string; overdue?: boolean; ok?: boolean }) => {
      if (Boolean(opts.overdue) === Boolean(opts.ok)) throw new UsageError({ key: 'cli.usage.billingChoice' });
      await withDatabase((env) => setBilling(env, { handle: opts.handle, overdue: Boolean(opts.overdue) }));
    });

  program
    .command('services:add')
    .description(t('cli.commands.servicesAdd'))
    .requiredOption('--name <name>', t('cli.options.serviceName'))
    .requiredOption('--type <type>', t('cli.options.type'))
    .requiredOption('--admin <handle>', t('cli.options.admin'))
    .requiredOption('--tech <handle>', t('cli.options.tech'))
    .requiredOption('--billing <handle>', t('cli.options.billing'))
    .action((opts: { name: string; type: string; admin: string; tech: string; billing: string }) =>
      withDatabase((env) => addService(env, opts)),
    );

  program
    .command('services:import')
    .description(t('cli.commands.servicesImport'))
    .argument('<file>', t('cli.options.servicesFile'))
    .action(async (path: string) => {
      file = path;
      await assertReadable(path);
      await withDatabase((env) => importServicesFile(env, path));
    });

  program
    .command('requests:list')
    .description(t('cli.commands.requestsList'))
    .option('--state <state>', t('cli.options.state'))
    .option('--limit <n>', t('cli.options.limit'))
    .action((opts: { state?: string; limit?: string }) => withDatabase((env) => listRequestsTable(env, opts)));

  program
    .command('mail:list')
    .description(t('cli.commands.mailList'))
    .option('--dead', t('cli.options.dead'))
    .option('--limit <n>', t('cli.options.limit'))
    .action((opts: { dead?: boolean; limit?: string }) => withDatabase((env) => listMailTable(env, opts)));

  program
    .command('mail:retry')
    .description(t('cli.commands.mailRetry'))
    .argument('[id]', t('cli.options.mailId'))
    .option('--all-dead', t('cli.options.allDead'))
    .action((id: string | undefined, opts: { allDead?: boolean }) => withDatabase((env) => retryMailCommand(env, id, opts)));

  // Subcommands copy these settings when created, so the help options are translated for each.
  for (const command of program.commands) {
    command.helpOption('-h, --help', t('cli.options.help'));
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      // Called without a command: commander has printed the help to stderr.
      if (error.code === 'commander.help') return EXIT_USAGE;
      return reportError(usageFromCommander(error), io, t, { debug });
    }
    return reportError(error, io, t, { debug, file });
  }
}
