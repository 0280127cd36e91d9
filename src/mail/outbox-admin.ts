// Operator view of the outbox for the CLI (`mail:list [--dead]`, `mail:retry <id>|--all-dead`).
// The payload column is never read here: it holds confirmation tokens.
import type { Knex } from 'knex';
import { NotFoundError, ValidationError } from '../domain/errors.js';

export type OutboxStatus = 'pending' | 'sent' | 'dead' | 'void';

export interface OutboxEntry {
  id: number;
  kind: string;
  requestId: number | null;
  recipientAddress: string;
  recipientName: string;
  locale: string;
  /** The recipient's zone for the mail's dates; null = the default zone. */
  timeZone: string | null;
  status: OutboxStatus;
  attempts: number;
  /** Epoch ms. */
  nextAttemptAt: number;
  claimedBy: string | null;
  claimedUntil: number | null;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

export interface ListMailOptions {
  /** Only the rows that were given up. */
  dead?: boolean;
  /** 1 … 1000; default 50. */
  limit?: number;
}

export type RetryMailTarget = { id: number } | { allDead: true };

export const MAX_LIST_LIMIT = 1000;

interface EntryRow {
  id: number;
  kind: string;
  request_id: number | null;
  recipient_address: string;
  recipient_name: string;
  locale: string;
  time_zone: string | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  claimed_by: string | null;
  claimed_until: number | null;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

const COLUMNS = [
  'id',
  'kind',
  'request_id',
  'recipient_address',
  'recipient_name',
  'locale',
  'time_zone',
  'status',
  'attempts',
  'next_attempt_at',
  'claimed_by',
  'claimed_until',
  'last_error',
  'created_at',
  'sent_at',
] as const;

const nullableNumber = (value: number | null): number | null => (value === null ? null : Number(value));

function toEntry(row: EntryRow): OutboxEntry {
  return {
    id: Number(row.id),
    kind: row.kind,
    requestId: nullableNumber(row.request_id),
    recipientAddress: row.recipient_address,
    recipientName: row.recipient_name,
    locale: row.locale,
    timeZone: row.time_zone,
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    claimedBy: row.claimed_by,
    claimedUntil: nullableNumber(row.claimed_until),
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    sentAt: nullableNumber(row.sent_at),
  };
}

/** Newest first. Throws ValidationError (field `limit`, key `mail.errors.limit`) for a bad limit. */
export async function listMail(knex: Knex, options: ListMailOptions = {}): Promise<OutboxEntry[]> {
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError({ limit: { key: 'mail.errors.limit', params: { max: MAX_LIST_LIMIT } } });
  }
  const query = knex('outbox').select(...COLUMNS).orderBy('id', 'desc').limit(limit);
  if (options.dead) query.where('status', 'dead');
  const rows: EntryRow[] = await query;
  return rows.map(toEntry);
}

/**
 * Puts mail back in the queue, due now, with its attempts reset: every dead row (`allDead`), or
 * one row that is dead or still pending (e.g. to retry now after fixing the SMTP server rather
 * than wait for the backoff). A row being sent right now (claimed, lease running) is left
 * alone, as is a sent one. Returns how many rows were put back.
 *
 * Throws ValidationError (field `id`) for an id that is not a positive integer
 * (`mail.errors.id`) or a row that cannot be retried (`mail.errors.notRetryable`, with
 * `id` and `status`), NotFoundError (`mail.errors.notFound`, with `id`) for an unknown id.
 */
export async function retryMail(knex: Knex, target: RetryMailTarget, now: () => number = Date.now): Promise<{ retried: number }> {
  const at = now();
  const reset = { status: 'pending', attempts: 0, next_attempt_at: at, claimed_by: null, claimed_until: null };
  if ('allDead' in target) {
    if (target.allDead !== true) throw new ValidationError({ allDead: { key: 'errors.invalid' } });
    return { retried: await knex('outbox').where('status', 'dead').update(reset) };
  }
  const { id } = target;
  if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError({ id: { key: 'mail.errors.id' } });
  const changed = await knex('outbox')
    .where('id', id)
    .andWhere((q) =>
      q.where('status', 'dead').orWhere((p) =>
        p.where('status', 'pending').andWhere((c) => c.whereNull('claimed_until').orWhere('claimed_until', '<', at)),
      ),
    )
    .update(reset);
  if (changed > 0) return { retried: changed };
  const row: { status: OutboxStatus } | undefined = await knex('outbox').select('status').where('id', id).first();
  if (!row) throw new NotFoundError('mail.errors.notFound', { id });
  throw new ValidationError({ id: { key: 'mail.errors.notRetryable', params: { id, status: row.status } } });
}
