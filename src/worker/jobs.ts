// The worker's typed job registry: names, handlers and schedules in one place.
import type { Agenda } from 'agenda';
import type { Knex } from 'knex';
import type { Config } from '../config.js';
import type { Domain } from '../domain/index.js';
import type { Logger } from '../logger.js';
import type { Dispatcher, DispatchResult } from '../mail/dispatcher.js';

export const JOBS = {
  dispatchOutbox: 'outbox:dispatch',
  expireRequests: 'requests:expire',
  remindRequests: 'requests:remind',
  purge: 'maintenance:purge',
} as const;
export type JobName = (typeof JOBS)[keyof typeof JOBS];

export interface JobDeps {
  config: Config;
  knex: Knex;
  domain: Domain;
  dispatcher: Dispatcher;
  logger: Logger;
  /** Whether Agenda's jobs live in the SQL database (so the purge may clean them there). */
  jobsInSql: boolean;
}

/** One dispatch run sends batches until the outbox is drained or the run has lasted long enough. */
export async function drainOutbox(
  dispatcher: Dispatcher,
  maxMs: number,
  /** Called between batches, e.g. to renew the job's lock. */
  betweenBatches: () => Promise<void> = async () => undefined,
): Promise<DispatchResult> {
  const started = Date.now();
  const total: DispatchResult = { sent: 0, retried: 0, dead: 0, voided: 0 };
  for (let batch = 0; ; batch++) {
    if (batch > 0) await betweenBatches();
    const result = await dispatcher.dispatchOnce();
    total.sent += result.sent;
    total.retried += result.retried;
    total.dead += result.dead;
    total.voided += result.voided;
    if (result.sent + result.retried + result.dead + result.voided === 0 || Date.now() - started > maxMs) return total;
  }
}

/** Deletes what is past the retention period: expired sessions, sent mail, finished jobs, old counters. */
export async function purgeOldRows(deps: Pick<JobDeps, 'knex' | 'config' | 'jobsInSql'>, now = Date.now()): Promise<Record<string, number>> {
  const cutoff = now - deps.config.retentionMs;
  const { knex } = deps;
  const result: Record<string, number> = {};
  // connect-session-knex stores `expired` as ISO text on SQLite and as a timestamp on PostgreSQL.
  const sqlite = knex.client.config.client === 'sqlite3';
  result.sessions = await knex('sessions').where('expired', '<', sqlite ? new Date(now).toISOString() : new Date(now)).delete();
  result.outbox = await knex('outbox')
    .where((q) => q.where('status', 'sent').andWhere('sent_at', '<', cutoff))
    .orWhere((q) => q.where('status', 'void').andWhere('created_at', '<', cutoff))
    .delete();
  result.rateLimits = await knex('rate_limits').where('expire', '<', now).delete();
  if (deps.jobsInSql) {
    result.jobs = await knex('agenda_jobs').where('type', 'normal').whereNull('next_run_at').where('last_finished_at', '<', cutoff).delete();
  }
  return result;
}

export function defineJobs(agenda: Agenda, deps: JobDeps): void {
  const { domain, dispatcher, logger, config } = deps;
  const options = { concurrency: 1, lockLimit: 1, lockLifetime: 5 * 60_000 };

  agenda.define(
    JOBS.dispatchOutbox,
    async (job) => {
      // The lock is renewed between batches, so a crashed worker holds the job for one short
      // lock lifetime at most; the outbox rows' own leases protect the mail itself.
      const result = await drainOutbox(dispatcher, 30_000, () => job.touch());
      if (result.sent + result.retried + result.dead + result.voided > 0) logger.info({ job: JOBS.dispatchOutbox, ...result }, 'outbox dispatched');
    },
    { ...options, lockLifetime: 60_000 },
  );

  agenda.define(
    JOBS.expireRequests,
    async () => {
      const expired = await domain.requests.expireDue();
      if (expired > 0) logger.info({ job: JOBS.expireRequests, expired }, 'requests expired');
    },
    options,
  );

  agenda.define(
    JOBS.remindRequests,
    async () => {
      const reminded = await domain.requests.remindDue(config.remindBeforeMs);
      if (reminded > 0) logger.info({ job: JOBS.remindRequests, reminded }, 'reminders queued');
    },
    options,
  );

  agenda.define(
    JOBS.purge,
    async () => {
      logger.info({ job: JOBS.purge, ...(await purgeOldRows(deps)) }, 'old rows purged');
    },
    options,
  );
}

/** Recurring schedules; `every` upserts one job per name, so several workers do not duplicate them. */
export async function scheduleJobs(agenda: Agenda, config: Config): Promise<void> {
  await agenda.every(config.dispatchEveryMs, JOBS.dispatchOutbox);
  await agenda.every(config.expireEveryMs, JOBS.expireRequests);
  await agenda.every(config.expireEveryMs, JOBS.remindRequests);
  await agenda.every('1 day', JOBS.purge);
}
