// `npm run bench`: seeds a large database, then runs each benchmark in a process of its own and
// prints one machine-readable line per figure on stdout (progress goes to stderr):
//
//   seed seconds=… accounts=… services=…
//   contacts-page ratio=… app_rps=… baseline_rps=… p99_ms=…      (+ per-scenario and CPU lines)
//   web-rss peak_mb=…
//   mail-dispatch ratio=… app_mps=… baseline_mps=…                (+ a CPU line)
//   expiry seconds=… requests=… rss_mb=…
//
// BENCH_SCALE (default 1) scales the data down (0.01 for a quick run); BENCH_DATABASE_URL=postgres://…
// runs on a scratch PostgreSQL database instead of a SQLite file in a temp dir; BENCH_KEEP=1 keeps
// the database; arguments name the parts to run (contacts-page, mail-dispatch, expiry; default all).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { migrateLatest } from '../src/db/knex.js';
import { prepareExpiry, runSweepChild } from './expiry.js';
import { createBenchDatabase, exited, progress, result, SCALE, spawnTs } from './lib.js';
import { seedLarge, seedSizes } from './seed-large.js';

const PARTS = ['contacts-page', 'mail-dispatch', 'expiry'] as const;
type Part = (typeof PARTS)[number];

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function runChild(script: string, env: Record<string, string>): Promise<void> {
  const code = await exited(spawnTs(script, env, { stdout: 'inherit' }));
  if (code !== 0) throw new Error(`${script} exited with code ${code}`);
}

async function main(): Promise<number> {
  const requested = process.argv.slice(2);
  for (const part of requested) if (!(PARTS as readonly string[]).includes(part)) throw new Error(`unknown part "${part}"; use ${PARTS.join(', ')}`);
  const parts: Part[] = requested.length > 0 ? (requested as Part[]) : [...PARTS];

  progress(`machine: ${availableParallelism()} CPUs, ${cpuModel()}; node ${process.version}; BENCH_SCALE=${SCALE}`);
  const database = await createBenchDatabase();
  // The credentials of a PostgreSQL URL stay out of the output.
  const shownUrl = database.client === 'pg' ? database.url.replace(/\/\/[^@/]*@/, '//…@') : database.url;
  progress(`database: ${shownUrl}`);
  const knex = database.connect();
  let failures = 0;
  try {
    await migrateLatest(knex);
    const seed = await seedLarge(knex, seedSizes());
    progress(`seeded in ${seed.seconds.toFixed(1)} s`);
    result('seed', { seconds: seed.seconds, accounts: seed.accounts, services: seed.services, big_account_services: seed.bigServices });
    const env = { BENCH_DB_URL: database.url, BENCH_SEED: JSON.stringify(seed) };
    // A kept database can be measured again without seeding it again; only contacts-page leaves
    // the data as it found it (mail-dispatch sends the outbox, expiry expires requests).
    if (process.env.BENCH_KEEP === '1') {
      progress(`to measure contacts-page again on this database: BENCH_DB_URL='${shownUrl}' BENCH_SEED='${env.BENCH_SEED}' npx tsx bench/contacts-page.ts`);
    }

    for (const part of parts) {
      try {
        if (part === 'contacts-page') await runChild('bench/contacts-page.ts', env);
        if (part === 'mail-dispatch') await runChild('bench/mail-dispatch.ts', env);
        if (part === 'expiry') await runSweepChild(database.url, await prepareExpiry(knex));
      } catch (error) {
        failures += 1;
        progress(`${part} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  } finally {
    await knex.destroy();
    if (process.env.BENCH_KEEP === '1') progress(`kept ${database.url}`);
    else await database.drop();
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
