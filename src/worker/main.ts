// Composition root of the worker process: Agenda (jobs in the SQL database through our Knex
// backend, or in MongoDB when MONGODB_URL is set) running the outbox, expiry, reminder and purge jobs.
import { Agenda } from 'agenda';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { loadConfig } from '../config.js';
import { createKnex, migrateLatest } from '../db/knex.js';
import { createDomain } from '../domain/index.js';
import { createI18n } from '../i18n/index.js';
import { createLogger } from '../logger.js';
import { createDispatcher } from '../mail/dispatcher.js';
import { createMailRenderer } from '../mail/render.js';
import { createTransport } from '../mail/transport.js';
import { exitOnStartupError, onShutdown } from '../process-lifecycle.js';
import { createAgendaBackend } from './agenda-knex/index.js';
import { defineJobs, scheduleJobs } from './jobs.js';

const DRAIN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  const knex = createKnex({ url: config.databaseUrl, client: config.databaseClient });
  await migrateLatest(knex);
  // Unique even when two containers share a host name and a pid (both pid 1, say): a worker only
  // marks, and at shutdown releases, the outbox rows its own id claimed. At most 80 characters.
  const workerId = `${hostname().slice(0, 48)}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const domain = createDomain({ knex, handleSuffix: config.handleSuffix, requestTtlMs: config.requestTtlMs });
  const transport = createTransport(config, { logger });
  const renderer = createMailRenderer({ i18n: createI18n(), publicUrl: config.publicUrl, defaultTimeZone: config.defaultTimeZone });
  const dispatcher = createDispatcher({ knex, transport, renderer, logger, workerId });

  const agenda = new Agenda({
    backend: createAgendaBackend({
      knex,
      mongodbUrl: config.mongodbUrl,
      onUnlockError: (error, jobId) => logger.warn({ err: error, jobId }, 'could not release a job lock; it expires with its lifetime'),
    }),
    name: workerId,
    processEvery: Math.min(config.dispatchEveryMs, 1000),
    defaultLockLifetime: 5 * 60_000,
    removeOnComplete: true,
  });
  agenda.on('error', (error) => logger.error({ err: error }, 'agenda error'));
  agenda.on('fail', (error, job) => logger.error({ err: error, job: job.attrs.name }, 'job failed'));
  defineJobs(agenda, { config, knex, domain, dispatcher, logger, jobsInSql: !config.mongodbUrl });
  await agenda.start();
  await scheduleJobs(agenda, config);
  logger.info({ workerId, jobs: config.mongodbUrl ? 'mongodb' : 'sql', transport: transport.kind }, 'worker started');

  onShutdown(async () => {
    logger.info('worker stopping: draining running jobs');
    // Stop taking new work, let running jobs finish (bounded), hand back what is claimed.
    // Releasing the leases first also makes a running dispatch job stop claiming new batches.
    const released = dispatcher.releaseLeases();
    // Agenda then disconnects the backend: ours releases the locks this worker still holds (and
    // leaves the Knex instance open); the MongoDB backend closes the connection it opened.
    const drained = await agenda.drain({ timeout: DRAIN_TIMEOUT_MS });
    if (drained.timedOut) await agenda.stop();
    await released;
    await transport.close();
    await knex.destroy();
    logger.info('worker stopped');
  }, DRAIN_TIMEOUT_MS + 10_000);
}

main().catch(exitOnStartupError);
