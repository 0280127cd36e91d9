// Runs the CLI as an operator would: a real child process on a test database, with only the
// environment the CLI is documented to read.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// VAR_DIR keeps the development session secret out of the checkout's var/.
const varDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-cli-var-'));
process.once('exit', () => rmSync(varDir, { recursive: true, force: true }));

/** A scratch directory for CSV files, removed when the test process exits. */
export function scratchDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'contact-consent-cli-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  stdin?: string;
  env?: Record<string, string>;
  /** The entry point, relative to the repository: the CLI unless told otherwise (e.g. the seed). */
  script?: string;
}

export function runCli(databaseUrl: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', options.script ?? 'src/cli/index.ts', ...args], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tmpdir(),
        NODE_ENV: 'test',
        DATABASE_URL: databaseUrl,
        VAR_DIR: varDir,
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

export async function countRows(knex: Knex, table: string): Promise<number> {
  const row = (await knex(table).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/** Row counts of the tables the CLI writes, to show that a failed command wrote nothing. */
export async function snapshot(knex: Knex): Promise<Record<string, number>> {
  const tables = ['accounts', 'services', 'audit_log'];
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(knex, table)] as const)));
}
