// `npm start`: applies migrations, then runs the web and the worker as two separate processes,
// forwarding Ctrl-C / SIGTERM to both and stopping both when one of them dies.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config.js';
import { createKnex, migrateLatest } from './db/knex.js';
import { exitOnStartupError, superviseChildren } from './process-lifecycle.js';
import { WEB_NODE_FLAGS } from './web/node-flags.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function run(name: string, script: string, nodeFlags: readonly string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(here, script)], { stdio: 'inherit' });
  child.on('error', (error) => console.error(`${name}: ${error.message}`));
  return child;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const knex = createKnex({ url: config.databaseUrl, client: config.databaseClient });
  const applied = await migrateLatest(knex);
  if (applied.length > 0) console.log(`Applied ${applied.length} migration(s).`);
  const row = (await knex('accounts').count({ n: '*' }).first()) as { n: number | string } | undefined;
  await knex.destroy();
  if (Number(row?.n ?? 0) === 0) {
    console.log('The database is empty. Run `npm run seed` in another terminal to add demo accounts and services.');
  }
  if (!config.smtpUrl) {
    // The development mailbox exists only outside production (app.ts), and shows every code to
    // whoever reaches the server: said plainly, in case this is not the developer's machine.
    console.log(
      config.env === 'production'
        ? `No SMTP_URL: mail is written to ${config.mailDir} (no /dev/mail in production).`
        : `No SMTP_URL: mail is written to ${config.mailDir} and listed, codes included and without login, at ${config.publicUrl}/dev/mail. Set SMTP_URL and NODE_ENV=production before anyone else can reach this server.`,
    );
  }

  const children = [run('web', 'web/server.ts', WEB_NODE_FLAGS), run('worker', 'worker/main.ts')];
  const { stop } = superviseChildren(children, (code) => process.exit(code));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch(exitOnStartupError);
