// Sends the outbox. The table is the source of truth: a row is claimed with a lease (so several
// worker processes can run side by side and a crashed worker's rows come back), sent, and
// marked sent or scheduled again. Delivery is at least once: a crash between sending and
// marking may send a mail twice, with the same Message-ID. A mail with a code that no longer works
// (its request closed, or a newer mail replaced the code) is not sent but marked `void`.
import type { Knex } from 'knex';
import { staleTokenMails, TOKEN_MAIL_KINDS } from '../domain/outbox.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../logger.js';
import type { MailRenderer } from './render.js';
import { isPermanentFailure, type MailTransport } from './transport.js';

export interface DispatcherDeps {
  knex: Knex;
  transport: MailTransport;
  renderer: MailRenderer;
  logger: Logger;
  /** Unique per worker process (e.g. `${hostname}:${pid}`); at most 80 characters. */
  workerId: string;
  now?: () => number;
  /** For the backoff jitter; tests pass a fixed value. */
  random?: () => number;
  batchSize?: number;
  concurrency?: number;
  leaseMs?: number;
  maxAttempts?: number;
}

export interface DispatchResult {
  sent: number;
  retried: number;
  dead: number;
  /** Mails not sent because their code no longer works (status `void`). */
  voided: number;
}

export interface Dispatcher {
  /** Claims the due rows (up to batchSize), sends them and records the outcome. */
  dispatchOnce(): Promise<DispatchResult>;
  /**
   * For shutdown: lets the mails already being sent finish, starts no new ones, and hands the
   * rows still claimed by this worker back. Later dispatchOnce calls do nothing.
   */
  releaseLeases(): Promise<number>;
}

/** The outbox columns the dispatcher reads (all but payload are plain values). */
interface OutboxRow {
  id: number;
  kind: string;
  request_id: number | null;
  recipient_address: string;
  recipient_name: string;
  locale: string;
  time_zone: string | null;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  claimed_until: number;
}

/**
 * Rows claimed per round and mails in flight at once, unless the caller says otherwise. The worker
 * process tests rely on these bounds (rows left leased by a crash, mails finishing after SIGTERM).
 *
 * Each round ends by waiting for its last sends and its last "sent" UPDATE, then claims the next
 * rows, while the SMTP connections idle: with 50 rows per round that pause cost about a fifth of
 * the throughput (`npm run bench mail-dispatch`: ratio 0.75–0.80 at 50, 0.83 at 100, 0.86–0.97 at
 * 200). A crash leaves at most this many rows leased, until their lease runs out, and rows not
 * started in the first half of their lease are handed back, so a slow SMTP server is no reason
 * for a smaller batch.
 */
export const DEFAULT_BATCH_SIZE = 200;
export const DEFAULT_CONCURRENCY = 5;
/** At most this many sent mails wait for their "sent" UPDATE (what a crash may send twice). */
const SENT_FLUSH_EVERY = 10;

export const MIN_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * Delay before the next attempt after `attempts` failed ones: ×3 per attempt from 1 s, capped at
 * 10 min (1, 3, 9, 27 s … so eight attempts span a quarter of an hour of SMTP trouble), with
 * "equal jitter" (half fixed, half random) so that mails failed together do not retry together.
 */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 3 ** Math.max(0, attempts - 1));
  const delay = ceiling / 2 + (random() * ceiling) / 2;
  return Math.round(Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, delay)));
}

/** A short, token-free description of a failure for last_error and the logs. */
export function describeError(error: unknown, secrets: string[] = []): string {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as {
    name?: unknown;
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
  };
  const parts = [
    typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error',
    typeof e.responseCode === 'number' ? String(e.responseCode) : undefined,
    typeof e.message === 'string' ? (e.message.split('\n')[0] ?? '') : undefined,
  ].filter((part): part is string => part !== undefined && part !== '');
  let text = redactUrl(parts.join(': '));
  for (const secret of secrets) if (secret) text = text.split(secret).join('[redacted]');
  return text.slice(0, 500);
}

/** The token of a confirm/reminder row, only to scrub it from error messages. */
function secretsOf(row: OutboxRow): string[] {
  try {
    const payload = JSON.parse(row.payload) as { token?: unknown };
    return typeof payload.token === 'string' ? [payload.token] : [];
  } catch {
    return [];
  }
}

/** last_error of a mail marked `void`, for mail:list. */
export const VOID_REASON = 'not sent: code no longer works';

function isPostgres(knex: Knex): boolean {
  return (knex.client as { dialect?: string }).dialect === 'postgresql';
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { knex, transport, renderer, workerId } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  const concurrency = Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY);
  const leaseMs = deps.leaseMs ?? 60_000;
  // 12 attempts span roughly half an hour to an hour of backoff: an SMTP outage of that length loses nothing.
  const maxAttempts = deps.maxAttempts ?? 12;
  // A row is only started while at least this much of its lease is left, so that a send (bounded
  // by the SMTP timeouts) normally ends before another worker may take the row over. While a
  // round runs, its leases are renewed every quarter of their length (see run), so a slow send
  // does not outlive them either.
  const leaseMargin = leaseMs / 2;
  const logger = deps.logger.child({ component: 'mail-dispatcher', workerId });
  if (workerId.length === 0 || workerId.length > 80) throw new Error('workerId must be 1 to 80 characters');
  const postgres = isPostgres(knex);

  let running: Promise<DispatchResult> | undefined;
  let stopping = false;

  /** Rows due now, unclaimed or with an expired lease. */
  function due(query: Knex.QueryBuilder, at: number): Knex.QueryBuilder {
    return query
      .where('status', 'pending')
      .andWhere('next_attempt_at', '<=', at)
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<', at));
  }

  async function claim(): Promise<OutboxRow[]> {
    const at = now();
    const until = at + leaseMs;
    let ids: number[];
    if (postgres) {
      // SKIP LOCKED: concurrent workers each get different rows instead of waiting on each other.
      ids = await knex.transaction(async (trx) => {
        const rows: { id: number }[] = await due(trx('outbox').select('id'), at)
          .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
          .limit(batchSize)
          .forUpdate()
          .skipLocked();
        const found = rows.map((row) => row.id);
        if (found.length > 0) await trx('outbox').whereIn('id', found).update({ claimed_by: workerId, claimed_until: until });
        return found;
      });
    } else {
      // SQLite has one writer at a time and no row locks: pick candidates, then claim only those
      // still unclaimed in a conditional UPDATE; another worker's claim in between simply wins.
      const rows: { id: number }[] = await due(knex('outbox').select('id'), at)
        .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
        .limit(batchSize);
      ids = rows.map((row) => row.id);
      if (ids.length > 0) await due(knex('outbox').whereIn('id', ids), at).update({ claimed_by: workerId, claimed_until: until });
    }
    if (ids.length === 0) return [];
    return knex('outbox')
      .select('id', 'kind', 'request_id', 'recipient_address', 'recipient_name', 'locale', 'time_zone', 'payload', 'attempts', 'next_attempt_at', 'claimed_until')
      .whereIn('id', ids)
      .andWhere({ claimed_by: workerId, claimed_until: until })
      .orderBy('id');
  }

  // Tokens are kept only as hashes (DESIGN.md): a mail's own copy, which it needed until it was
  // delivered, leaves the outbox with the delivery instead of staying until the retention purge.
  // Mail that is still pending or dead keeps it, so a retry can still send it.
  const tokenKinds = TOKEN_MAIL_KINDS.map(() => '?').join(', ');
  const payloadWithoutToken = () =>
    postgres
      ? knex.raw(`CASE WHEN kind IN (${tokenKinds}) THEN CAST(CAST(payload AS jsonb) - 'token' AS text) ELSE payload END`, [...TOKEN_MAIL_KINDS])
      : knex.raw(`CASE WHEN kind IN (${tokenKinds}) THEN json_remove(payload, '$.token') ELSE payload END`, [...TOKEN_MAIL_KINDS]);

  async function markSent(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    const changed = await knex('outbox')
      .whereIn('id', ids)
      .andWhere('claimed_by', workerId)
      .update({ status: 'sent', sent_at: now(), attempts: knex.raw('attempts + 1'), claimed_by: null, claimed_until: null, payload: payloadWithoutToken() });
    if (changed !== ids.length) {
      logger.warn({ outboxIds: ids, marked: changed }, 'lease lost before marking mail sent; it may be sent twice');
    }
  }

  async function markFailed(row: OutboxRow, error: unknown): Promise<'retried' | 'dead'> {
    const attempts = Number(row.attempts) + 1;
    const permanent = isPermanentFailure(error);
    const dead = permanent || attempts >= maxAttempts;
    const lastError = describeError(error, secretsOf(row));
    const nextAttemptAt = dead ? Number(row.next_attempt_at) : now() + backoffMs(attempts, random);
    const changed = await knex('outbox')
      .where({ id: row.id, claimed_by: workerId })
      .update({
        status: dead ? 'dead' : 'pending',
        attempts,
        next_attempt_at: nextAttemptAt,
        last_error: lastError,
        claimed_by: null,
        claimed_until: null,
      });
    const fields = { outboxId: row.id, kind: row.kind, attempts, error: lastError };
    if (changed === 0) logger.warn(fields, 'lease lost before recording a failed mail');
    else if (dead) logger.error({ ...fields, permanent }, 'mail given up (dead)');
    else logger.warn({ ...fields, nextAttemptAt }, 'mail failed, will retry');
    return dead ? 'dead' : 'retried';
  }

  /**
   * Marks the claimed mails whose code no longer works `void`, without their token, and answers
   * the rows left to send. The check is made just before sending, so it also covers a mail that
   * waited in backoff, or a dead one put back by mail:retry, after its request moved on.
   */
  async function voidStale(rows: OutboxRow[], result: DispatchResult): Promise<OutboxRow[]> {
    const tokenRows = rows.filter((row) => (TOKEN_MAIL_KINDS as readonly string[]).includes(row.kind));
    if (tokenRows.length === 0) return rows;
    const mails = tokenRows.map((row) => ({ id: row.id, requestId: row.request_id === null ? null : Number(row.request_id), token: secretsOf(row)[0] }));
    const stale = [...(await staleTokenMails(knex, mails, now()))];
    if (stale.length === 0) return rows;
    const changed = await knex('outbox')
      .whereIn('id', stale)
      .andWhere('claimed_by', workerId)
      .update({ status: 'void', last_error: VOID_REASON, claimed_by: null, claimed_until: null, payload: payloadWithoutToken() });
    result.voided += changed;
    logger.info({ outboxIds: stale, voided: changed }, 'mail not sent: its code no longer works');
    const skip = new Set(stale);
    return rows.filter((row) => !skip.has(row.id));
  }

  async function run(): Promise<DispatchResult> {
    const result: DispatchResult = { sent: 0, retried: 0, dead: 0, voided: 0 };
    const rows = await voidStale(await claim(), result);
    if (rows.length === 0) return result;
    const leases = renewLeasesWhileRunning(rows.map((row) => row.id), Math.min(...rows.map((row) => Number(row.claimed_until))));
    try {
      return await send(rows, result, leases);
    } finally {
      await leases.stop();
    }
  }

  /**
   * Renews the leases of this round's rows that this worker still holds (not yet recorded as
   * sent, failed or handed back) every quarter of their length, so that a send slower than the
   * lease (connection and greeting timeouts, a server slow to answer) cannot let another worker
   * take the row and send it again. `until()` is when the leases surely last: no new send starts
   * too close to it; `holds(id)` is false for a row the last renewal no longer found ours.
   */
  function renewLeasesWhileRunning(ids: number[], claimedUntil: number): { until(): number; holds(id: number): boolean; stop(): Promise<void> } {
    let until = claimedUntil;
    let held: Set<number> | undefined;
    let renewing: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (renewing) return;
      const next = now() + leaseMs;
      renewing = knex('outbox')
        .whereIn('id', ids)
        .andWhere({ claimed_by: workerId, status: 'pending' })
        .update({ claimed_until: next }, ['id'])
        .then(
          (renewed: { id: number | string }[]) => {
            held = new Set(renewed.map((row) => Number(row.id)));
            until = next;
          },
          (error: unknown) => logger.warn({ error: describeError(error) }, 'could not renew the leases of the mail being sent'),
        )
        .finally(() => {
          renewing = undefined;
        });
    }, leaseMs / 4);
    return {
      until: () => until,
      holds: (id) => held === undefined || held.has(id),
      async stop() {
        clearInterval(timer);
        await renewing;
      },
    };
  }

  async function send(rows: OutboxRow[], result: DispatchResult, leases: { until(): number; holds(id: number): boolean }): Promise<DispatchResult> {
    // "sent" updates are batched: one UPDATE per SENT_FLUSH_EVERY mails rather than one per mail,
    // but often enough that a crash resends only a handful. They run one after the other in the
    // background: a runner goes on with its next mail instead of waiting for the UPDATE.
    let unmarked: number[] = [];
    let flushing = Promise.resolve();
    const flush = (): Promise<void> => {
      const ids = unmarked;
      unmarked = [];
      flushing = flushing.then(() =>
        markSent(ids).catch((error: unknown) => logger.error({ outboxIds: ids, error: describeError(error) }, 'could not mark mail sent')),
      );
      return flushing;
    };
    const skipped: number[] = [];

    let next = 0;
    const runner = async (): Promise<void> => {
      for (let row = rows[next++]; row !== undefined; row = rows[next++]) {
        if (!leases.holds(row.id)) continue;
        if (stopping || now() > leases.until() - leaseMargin) {
          skipped.push(row.id);
          continue;
        }
        let failure: { error: unknown } | undefined;
        try {
          const mail = renderer.render(row);
          await transport.send({
            outboxId: row.id,
            to: { name: row.recipient_name, address: row.recipient_address },
            ...mail,
          });
        } catch (error) {
          failure = { error };
        }
        if (failure) {
          try {
            result[await markFailed(row, failure.error)] += 1;
          } catch (error) {
            logger.error({ outboxId: row.id, error: describeError(error) }, 'could not record a failed mail');
          }
          continue;
        }
        result.sent += 1;
        logger.info({ outboxId: row.id, kind: row.kind, attempts: Number(row.attempts) + 1 }, 'mail sent');
        unmarked.push(row.id);
        if (unmarked.length >= SENT_FLUSH_EVERY) void flush();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, runner));
    await flush();
    if (skipped.length > 0) {
      // Handed back now rather than when the lease runs out, so they go out on the next round.
      await knex('outbox').whereIn('id', skipped).andWhere('claimed_by', workerId).update({ claimed_by: null, claimed_until: null });
    }
    return result;
  }

  return {
    dispatchOnce() {
      if (stopping) return Promise.resolve({ sent: 0, retried: 0, dead: 0, voided: 0 });
      // One round at a time per worker: a second call joins the one in flight instead of
      // re-reading rows this worker has already claimed.
      running ??= run().finally(() => {
        running = undefined;
      });
      return running;
    },
    async releaseLeases() {
      stopping = true;
      await running?.catch(() => undefined);
      return knex('outbox').where('claimed_by', workerId).update({ claimed_by: null, claimed_until: null });
    },
  };
}
