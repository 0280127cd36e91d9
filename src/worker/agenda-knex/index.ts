import type { Knex } from 'knex';
import type { AgendaBackend } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import { KnexBackend } from './knex-backend.js';

export { KnexBackend, type KnexBackendOptions } from './knex-backend.js';
export { KnexJobRepository, type KnexJobRepositoryOptions } from './knex-job-repository.js';

export interface AgendaBackendOptions {
  knex: Knex;
  /** When set, jobs live in MongoDB (the official backend) instead of the SQL database. */
  mongodbUrl?: string | undefined;
  /** SQL table of the Knex backend (default `agenda_jobs`). */
  tableName?: string;
  /** Knex backend: told about a failed unlock (see KnexJobRepositoryOptions.onUnlockError). */
  onUnlockError?: (error: unknown, jobId: number) => void;
}

/**
 * The worker's job store: MongoDB when configured, else the app's own SQL database. Agenda's
 * stop()/drain() closes the MongoDB connection it opened; the Knex instance is never closed here.
 */
export function createAgendaBackend({ knex, mongodbUrl, tableName, onUnlockError }: AgendaBackendOptions): AgendaBackend {
  if (mongodbUrl) return new MongoBackend({ address: mongodbUrl });
  return new KnexBackend({ knex, tableName, onUnlockError });
}
