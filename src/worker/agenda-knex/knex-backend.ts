import type { Knex } from 'knex';
import type { AgendaBackend } from 'agenda';
import { KnexJobRepository, type KnexJobRepositoryOptions } from './knex-job-repository.js';

export interface KnexBackendOptions {
  /** A ready Knex instance (sqlite3 or pg), shared with the rest of the app. */
  knex: Knex;
  /** Defaults to `agenda_jobs`. The table must exist (see the migration); it is not created here. */
  tableName?: string;
  /** See KnexJobRepositoryOptions.onUnlockError. */
  onUnlockError?: KnexJobRepositoryOptions['onUnlockError'];
}

/**
 * Agenda 6 backend that keeps jobs in the app's SQL database. Storage only: there is no
 * notification channel, so workers find new jobs by polling (Agenda's `processEvery`).
 */
export class KnexBackend implements AgendaBackend {
  readonly name: string;
  readonly repository: KnexJobRepository;
  readonly notificationChannel = undefined;
  /**
   * Agenda calls disconnect() from stop() and drain() only when this is true. What this backend
   * "owns" is its session of job locks, not the Knex instance: disconnect() releases locks it
   * still holds and never destroys the Knex pool, which stays the caller's to close.
   */
  readonly ownsConnection = true;

  constructor({ knex, tableName, onUnlockError }: KnexBackendOptions) {
    this.repository = new KnexJobRepository({ knex, tableName, onUnlockError });
    this.name = this.repository.dialect === 'postgres' ? 'Knex (PostgreSQL)' : 'Knex (SQLite)';
  }

  async connect(): Promise<void> {
    await this.repository.connect();
  }

  async disconnect(): Promise<void> {
    await this.repository.releaseClaims();
  }
}
