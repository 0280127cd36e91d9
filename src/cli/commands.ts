// The operator commands. Each checks its input through the domain, writes all or nothing, and
// prints translated messages; commander wiring lives in program.ts.
import { checkPasswordPolicy, hashPassword } from '../domain/passwords.js';
import { endSessionsOf } from '../domain/sessions.js';
import { ValidationError, type Message } from '../domain/errors.js';
import { parseHandle } from '../domain/handles.js';
import { importAccounts, importServices, type ImportOptions, type ImportProgress } from '../domain/imports.js';
import { listRequests, MAX_REPORT_LIMIT } from '../domain/request-reports.js';
import { parseRowId } from '../domain/row-ids.js';
import { listMail, retryMail } from '../mail/outbox-admin.js';
import type { CliContext } from './context.js';
import { readCsvRecords } from './csv.js';
import { formatTable, formatTimestamp, UsageError, type Io, type Translate } from './output.js';


export interface CommandEnv {
  context: CliContext;
  io: Io;
  t: Translate;
}

/** `-` stands for "read it from standard input", which keeps passwords out of shell history and `ps`. */
export async function readSecret(value: string, stdin: AsyncIterable<Buffer | string> = process.stdin): Promise<string> {
  if (value !== '-') return value;
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    // The first line is the password: at a terminal, Enter is enough (no Ctrl-D needed).
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export async function addAccount(
  { context, io, t }: CommandEnv,
  options: { handle: string; email: string; password: string; name?: string; locale?: string },
): Promise<void> {
  const account = await context.domain.accounts.create({
    handle: options.handle,
    email: options.email,
    password: await readSecret(options.password),
    name: options.name ?? '',
    locale: options.locale ?? 'en',
  });
  io.out(t('cli.accounts.created', { handle: account.handle, email: account.email, locale: account.locale, name: account.name || '—' }));
}

/** Sets an account's password without knowing the old one: the operator's reset. */
export async function setPassword({ context, io, t }: CommandEnv, options: { handle: string; password: string }): Promise<void> {
  const password = await readSecret(options.password);
  const errors: Record<string, Message> = {};
  const handle = parseHandle(options.handle, context.config.handleSuffix);
  if ('error' in handle) errors.handle = handle.error;
  const policy = checkPasswordPolicy(password);
  if (policy) errors.password = policy;
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  const account = await context.domain.accounts.requireByHandle(options.handle);
  const hash = await hashPassword(password);
  const ended = await context.knex.transaction(async (trx) => {
    const at = context.domain.now();
    await trx('accounts').where({ id: account.id }).update({ password_hash: hash, password_changed_at: at, updated_at: at });
    // Recorded like the user's own password change, so the account's history shows the reset.
    await context.domain.audit.record({ accountId: account.id, action: 'operator.password', ip: null }, trx);
    // A reset is often about a stolen password: whoever is logged in with the old one is logged out.
    return endSessionsOf(trx, account.id);
  });
  io.out(t('cli.accounts.passwordSet', { handle: account.handle, count: ended }));
}

export async function setBilling({ context, io, t }: CommandEnv, options: { handle: string; overdue: boolean }): Promise<void> {
  const account = await context.domain.accounts.setBillingStatus(options.handle, options.overdue);
  io.out(
    account.billingOverdueSince === null
      ? t('cli.accounts.billingOk', { handle: account.handle })
      : t('cli.accounts.billingOverdue', { handle: account.handle, since: formatTimestamp(account.billingOverdueSince) }),
  );
}

export async function addService(
  { context, io, t }: CommandEnv,
  options: { name: string; type: string; admin: string; tech: string; billing: string },
): Promise<void> {
  const service = await context.domain.services.create(options);
  io.out(
    t('cli.services.created', {
      id: service.id,
      name: service.name,
      type: service.type,
      admin: service.admin.handle,
      tech: service.tech.handle,
      billing: service.billing.handle,
    }),
  );
}

function importOptions({ context, io, t }: CommandEnv): ImportOptions {
  return {
    knex: context.knex,
    handleSuffix: context.config.handleSuffix,
    now: context.domain.now,
    onProgress: (progress: ImportProgress) =>
      io.err(t(`cli.import.progress.${progress.phase}`, { done: progress.done, total: progress.total ?? '' })),
  };
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

export async function importAccountsFile(env: CommandEnv, file: string): Promise<void> {
  const started = performance.now();
  const summary = await importAccounts(readCsvRecords(file), importOptions(env));
  env.io.out(env.t('cli.import.accountsDone', { rows: summary.rows, file, seconds: seconds(started) }));
  env.io.out(env.t('cli.import.passwords', { hashed: summary.hashed, kept: summary.kept, locked: summary.locked }));
}

export async function importServicesFile(env: CommandEnv, file: string): Promise<void> {
  const started = performance.now();
  const summary = await importServices(readCsvRecords(file), importOptions(env));
  env.io.out(env.t('cli.import.servicesDone', { rows: summary.rows, file, seconds: seconds(started) }));
}

/**
 * A --limit option as a number: digits only, since Number() would take "0x10" or "1e1" too;
 * anything else becomes NaN, which the listing refuses with its own message.
 */
function limitOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  return /^[0-9]{1,7}$/.test(raw) ? Number(raw) : NaN;
}

export async function listRequestsTable({ context, io, t }: CommandEnv, options: { state?: string; limit?: string }): Promise<void> {
  const { rows, total } = await listRequests(context.knex, { state: options.state, limit: limitOption(options.limit) });
  if (rows.length === 0) {
    io.out(options.state ? t('cli.requests.noneInState', { state: options.state.trim().toLowerCase() }) : t('cli.requests.none'));
    return;
  }
  const headers = ['id', 'state', 'service', 'roles', 'change', 'requester', 'created', 'expires'].map((column) =>
    t(`cli.requests.columns.${column}`),
  );
  const table = rows.map((row) => [
    String(row.id),
    row.failureReason ? `${row.state} (${row.failureReason})` : row.state,
    row.serviceName,
    row.roles.join(','),
    `${row.fromHandle} → ${row.toHandle}`,
    row.requesterHandle,
    formatTimestamp(row.createdAt),
    formatTimestamp(row.expiresAt),
  ]);
  for (const line of formatTable(headers, table)) io.out(line);
  if (rows.length === total) {
    io.out(t('cli.requests.total', { rows: rows.length }));
    return;
  }
  io.out(t('cli.requests.newest', { rows: rows.length, total }));
  if (rows.length < MAX_REPORT_LIMIT) io.out(t('cli.requests.more', { max: MAX_REPORT_LIMIT }));
}

export async function listMailTable({ context, io, t }: CommandEnv, options: { dead?: boolean; limit?: string }): Promise<void> {
  const rows = await listMail(context.knex, { dead: options.dead === true, limit: limitOption(options.limit) });
  if (rows.length === 0) {
    io.out(t(options.dead ? 'cli.mail.noneDead' : 'cli.mail.none'));
    return;
  }
  const headers = ['id', 'status', 'kind', 'request', 'to', 'attempts', 'next', 'error'].map((column) => t(`cli.mail.columns.${column}`));
  const table = rows.map((row) => [
    String(row.id),
    row.status,
    row.kind,
    row.requestId === null ? '' : String(row.requestId),
    row.recipientAddress,
    String(row.attempts),
    row.status === 'pending' ? formatTimestamp(row.nextAttemptAt) : '',
    (row.lastError ?? '').slice(0, 60),
  ]);
  for (const line of formatTable(headers, table)) io.out(line);
  io.out(t('cli.mail.total', { rows: rows.length }));
}

export async function retryMailCommand({ context, io, t }: CommandEnv, id: string | undefined, options: { allDead?: boolean }): Promise<void> {
  if ((id === undefined) === (options.allDead !== true)) throw new UsageError({ key: 'cli.mail.retryUsage' });
  const rowId = id === undefined ? undefined : parseRowId(id);
  if (id !== undefined && rowId === undefined) throw new UsageError({ key: 'cli.mail.badId', params: { id } });
  const result = await retryMail(context.knex, rowId === undefined ? { allDead: true } : { id: rowId });
  io.out(t('cli.mail.retried', { count: result.retried }));
}
