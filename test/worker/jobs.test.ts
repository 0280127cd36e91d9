// The worker's job bodies in process: the purge of old rows (written the way the web app, the
// dispatcher and Agenda write them) and the outbox drain loop with the real dispatcher and SMTP.
import assert from 'node:assert/strict';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import type { SessionData } from 'express-session';
import { DEFAULT_TIME_ZONE } from '../../src/config.js';
import type { Config } from '../../src/config.js';
import { createI18n } from '../../src/i18n/index.js';
import { createDispatcher, type Dispatcher, type DispatchResult } from '../../src/mail/dispatcher.js';
import { createMailRenderer } from '../../src/mail/render.js';
import { createTransport, type MailTransport } from '../../src/mail/transport.js';
import { createRateLimits } from '../../src/web/middleware/rate-limits.js';
import { drainOutbox, purgeOldRows } from '../../src/worker/jobs.js';
import { testConfig } from '../helpers/test-app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { freePort, insertMail, outboxRows, PUBLIC_URL, silentLogger, startSmtpServer, type TestSmtpServer } from '../mail/mail-helpers.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('worker: jobs', () => {
  let db: TestDatabase;
  let config: Config;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    config = testConfig(db.url);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await db.destroy();
  });

  describe('purgeOldRows', () => {
    /** Sessions through the web app's own store (connect-session-knex, as src/web/middleware/session.ts sets it up). */
    async function addSession(sid: string, maxAgeMs: number): Promise<void> {
      const store = new ConnectSessionKnexStore({ knex: db.knex, tableName: 'sessions', createTable: false, cleanupInterval: 0 });
      await store.set(sid, { cookie: { maxAge: maxAgeMs, originalMaxAge: maxAgeMs } } as SessionData);
    }

    async function sids(): Promise<string[]> {
      return ((await db.knex('sessions').orderBy('sid').pluck('sid')) as string[]).map(String);
    }

    it('deletes expired sessions and keeps live ones', async () => {
      await addSession('expired-soon', 1000);
      await addSession('live', 2 * HOUR);
      assert.deepEqual(await sids(), ['expired-soon', 'live']);
      // Nothing has expired yet.
      assert.equal((await purgeOldRows({ knex: db.knex, config, jobsInSql: true })).sessions, 0);
      assert.deepEqual(await sids(), ['expired-soon', 'live']);
      // An hour later the short one has.
      const result = await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, Date.now() + HOUR);
      assert.equal(result.sessions, 1);
      assert.deepEqual(await sids(), ['live']);
    });

    it('deletes sent and void mail older than the retention period, never pending, dead or recent mail', async () => {
      const now = Date.now();
      const old = now - config.retentionMs - DAY;
      const ids = await insertMail(db.knex, [
        { status: 'sent' },
        { status: 'sent' },
        { status: 'pending', nextAttemptAt: old, attempts: 3 },
        { status: 'dead', nextAttemptAt: old, attempts: 8 },
        { status: 'sent' },
        { status: 'void' },
        { status: 'void' },
      ]);
      const [sentOld, sentRecent, pendingOld, deadOld, sentJustInside, voidOld, voidRecent] = ids as [number, number, number, number, number, number, number];
      await db.knex('outbox').where('id', sentOld).update({ sent_at: old, created_at: old });
      await db.knex('outbox').where('id', sentRecent).update({ sent_at: now - DAY, created_at: old });
      await db.knex('outbox').where('id', sentJustInside).update({ sent_at: now - config.retentionMs + HOUR, created_at: old });
      await db.knex('outbox').whereIn('id', [pendingOld, deadOld, voidOld]).update({ created_at: old });
      await db.knex('outbox').where('id', voidRecent).update({ created_at: now - DAY });

      const result = await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, now);
      assert.equal(result.outbox, 2);
      assert.deepEqual(
        (await outboxRows(db.knex)).map((row) => [row.id, row.status]),
        [
          [sentRecent, 'sent'],
          [pendingOld, 'pending'],
          [deadOld, 'dead'],
          [sentJustInside, 'sent'],
          [voidRecent, 'void'],
        ],
      );
    });

    it('deletes expired rate-limit counters and keeps running ones', async () => {
      // A login attempt counts in three windows: 15 minutes (handle + IP) and an hour (handle; IP).
      await createRateLimits(db.knex).beginLogin('aa123456-ovh', '192.0.2.1');
      await db.knex('rate_limits').insert({ key: 'no-expiry', points: 1, expire: null });
      const keys = async () => (await db.knex('rate_limits').orderBy('key').pluck('key')) as string[];
      assert.equal((await keys()).length, 4);

      assert.equal((await purgeOldRows({ knex: db.knex, config, jobsInSql: true })).rateLimits, 0);
      const result = await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, Date.now() + 30 * 60_000);
      assert.equal(result.rateLimits, 1);
      const left = await keys();
      assert.equal(left.length, 3);
      assert.ok(left.includes('no-expiry'));
      assert.ok(left.some((key) => key.startsWith('login_handle')), `kept ${left.join(', ')}`);
      assert.ok(left.some((key) => key.startsWith('login_client')), `kept ${left.join(', ')}`);
    });

    /** agenda_jobs rows as the Knex backend stores them (times in epoch ms). */
    async function addJob(name: string, fields: { type?: string; nextRunAt?: number | null; lastFinishedAt?: number | null }): Promise<void> {
      await db.knex('agenda_jobs').insert({
        name,
        type: fields.type ?? 'normal',
        priority: 0,
        next_run_at: fields.nextRunAt ?? null,
        last_run_at: fields.lastFinishedAt ?? null,
        last_finished_at: fields.lastFinishedAt ?? null,
        repeat_interval: fields.type === 'single' ? '1 day' : null,
        data: '{}',
      });
    }

    async function jobNames(): Promise<string[]> {
      return (await db.knex('agenda_jobs').orderBy('name').pluck('name')) as string[];
    }

    it('deletes one-off jobs that finished before the retention period, and nothing else', async () => {
      const now = Date.now();
      const old = now - config.retentionMs - DAY;
      await addJob('finished-old', { lastFinishedAt: old });
      await addJob('finished-recent', { lastFinishedAt: now - DAY });
      await addJob('scheduled-again', { nextRunAt: now + HOUR, lastFinishedAt: old });
      await addJob('never-run', { nextRunAt: now + HOUR });
      await addJob('recurring', { type: 'single', nextRunAt: now + HOUR, lastFinishedAt: old });

      const result = await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, now);
      assert.equal(result.jobs, 1);
      assert.deepEqual(await jobNames(), ['finished-recent', 'never-run', 'recurring', 'scheduled-again']);
    });

    it('leaves agenda_jobs alone when the jobs live in MongoDB', async () => {
      await addJob('finished-old', { lastFinishedAt: Date.now() - config.retentionMs - DAY });
      const result = await purgeOldRows({ knex: db.knex, config, jobsInSql: false });
      assert.ok(!('jobs' in result));
      assert.deepEqual(await jobNames(), ['finished-old']);
    });

    it('a second purge finds nothing left to delete', async () => {
      const old = Date.now() - config.retentionMs - DAY;
      await addSession('expired', 1000);
      const [sent] = await insertMail(db.knex, [{ status: 'sent' }]);
      await db.knex('outbox').where('id', sent).update({ sent_at: old });
      await addJob('finished-old', { lastFinishedAt: old });
      const later = Date.now() + HOUR;
      assert.deepEqual(await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, later), { sessions: 1, outbox: 1, rateLimits: 0, jobs: 1 });
      assert.deepEqual(await purgeOldRows({ knex: db.knex, config, jobsInSql: true }, later), { sessions: 0, outbox: 0, rateLimits: 0, jobs: 0 });
    });
  });

  describe('drainOutbox', () => {
    const renderer = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });

    async function smtpServer(options: Parameters<typeof startSmtpServer>[0] = {}): Promise<TestSmtpServer> {
      const started = await startSmtpServer(options);
      closers.push(started.close);
      return started;
    }
    function transport(url: string): MailTransport {
      const created = createTransport({ smtpUrl: url, mailDir: '/nonexistent', mailFrom: 'contacts@contacts.example.com', publicUrl: PUBLIC_URL });
      // Closed before the server (pushed later, run earlier).
      closers.push(() => created.close());
      return created;
    }
    /** The real dispatcher, counting its rounds. */
    function countingDispatcher(url: string, batchSize: number): { dispatcher: Dispatcher; rounds: DispatchResult[] } {
      const real = createDispatcher({ knex: db.knex, transport: transport(url), renderer, logger: silentLogger, workerId: 'jobs-test', batchSize });
      const rounds: DispatchResult[] = [];
      return {
        rounds,
        dispatcher: {
          async dispatchOnce() {
            const result = await real.dispatchOnce();
            rounds.push(result);
            return result;
          },
          releaseLeases: () => real.releaseLeases(),
        },
      };
    }

    it('sends batch after batch until the outbox is empty', async () => {
      const smtp = await smtpServer();
      const ids = await insertMail(
        db.knex,
        Array.from({ length: 10 }, (_, i) => ({ kind: 'request.done', address: `d${i}@example.test` })),
      );
      const { dispatcher, rounds } = countingDispatcher(smtp.url, 3);
      assert.deepEqual(await drainOutbox(dispatcher, 30_000), { sent: 10, retried: 0, dead: 0, voided: 0 });
      // 3 + 3 + 3 + 1, then a round that finds nothing ends the loop.
      assert.deepEqual(
        rounds.map((r) => r.sent),
        [3, 3, 3, 1, 0],
      );
      assert.equal(smtp.messages.length, 10);
      assert.deepEqual(
        smtp.messages.map((m) => m.messageId).sort(),
        ids.map((id) => `<outbox-${id}@contacts.example.com>`).sort(),
      );
      assert.ok((await outboxRows(db.knex)).every((row) => row.status === 'sent'));
      // Nothing left: the next run is a single empty round.
      rounds.length = 0;
      assert.deepEqual(await drainOutbox(dispatcher, 30_000), { sent: 0, retried: 0, dead: 0, voided: 0 });
      assert.equal(rounds.length, 1);
    });

    it('adds up sent and given-up mail over the rounds', async () => {
      const smtp = await smtpServer({ reject: (address) => address.startsWith('nobody') });
      await insertMail(db.knex, [
        { kind: 'request.done', address: 'a@example.test' },
        { kind: 'request.done', address: 'nobody1@example.test' },
        { kind: 'request.done', address: 'b@example.test' },
        { kind: 'request.done', address: 'nobody2@example.test' },
        { kind: 'request.done', address: 'c@example.test' },
      ]);
      const { dispatcher, rounds } = countingDispatcher(smtp.url, 2);
      assert.deepEqual(await drainOutbox(dispatcher, 30_000), { sent: 3, retried: 0, dead: 2, voided: 0 });
      assert.equal(rounds.length, 4);
      assert.deepEqual((await outboxRows(db.knex)).map((row) => row.status), ['sent', 'dead', 'sent', 'dead', 'sent']);
    });

    it('stops when what is left is waiting for a retry, instead of spinning on it', async () => {
      // Nothing listens: every mail fails and is scheduled for later.
      const port = await freePort();
      await insertMail(db.knex, Array.from({ length: 5 }, (_, i) => ({ kind: 'request.done', address: `r${i}@example.test` })));
      const { dispatcher, rounds } = countingDispatcher(`smtp://127.0.0.1:${port}`, 2);
      assert.deepEqual(await drainOutbox(dispatcher, 30_000), { sent: 0, retried: 5, dead: 0, voided: 0 });
      assert.deepEqual(
        rounds.map((r) => r.retried),
        [2, 2, 1, 0],
      );
      assert.ok((await outboxRows(db.knex)).every((row) => row.status === 'pending' && row.attempts === 1 && row.next_attempt_at > Date.now()));
    });

    it('ends a run after maxMs even if there is always more to send', async () => {
      let calls = 0;
      const endless: Dispatcher = {
        async dispatchOnce() {
          calls += 1;
          await new Promise((resolve) => setTimeout(resolve, 10));
          return { sent: 1, retried: 0, dead: 0, voided: 0 };
        },
        releaseLeases: async () => 0,
      };
      const started = Date.now();
      const total = await drainOutbox(endless, 100);
      const took = Date.now() - started;
      assert.ok(took >= 100 && took < 2_000, `ran ${took} ms`);
      assert.deepEqual(total, { sent: calls, retried: 0, dead: 0, voided: 0 });
      assert.ok(calls >= 5);
    });
  });
});
