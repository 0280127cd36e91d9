// What the worker relies on from Agenda 6 with a backend: scheduling, recurring jobs, priorities,
// concurrency and lock limits, locking across workers, lock expiry, retries, unique jobs,
// disable/enable, cancel, purge and shutdown. Run against every backend factory (harness.ts).
//
// No fixed sleeps: every wait polls for a condition with a deadline. To show that something does
// NOT run, a test waits for a "barrier" job scheduled after it to have run twice: by then the
// processor has scanned for work at least twice since.
import assert from 'node:assert/strict';
import { backoffStrategies, type Agenda, type AgendaBackend, type Job, type JobRepository } from 'agenda';
import { AgendaPool, backendFactories, gate, waitFor, type BackendHarness } from './harness.js';

interface Run {
  id: string;
  worker: string;
  startedAt: number;
  /** The lock the worker held when the handler started. */
  lockedAt: number;
  /** When Agenda started the run (set before the handler is called, unlike startedAt). */
  lastRunAt: number;
  /** The next run Agenda computed when it started this one (recurring jobs). */
  nextRunAt: number | undefined;
  data: unknown;
}

// Timers may fire a few milliseconds before Date.now() reaches their target (Node measures them
// from a cached loop time), so checks that a run did not come early allow this much.
const timerSlack = 15;

/** Records job runs; `handler` is what agenda.define() gets. */
class RunLog {
  readonly runs: Run[] = [];

  handler(worker: string, work?: (job: Job<unknown>) => Promise<void>): (job: Job<unknown>) => Promise<void> {
    return async (job) => {
      this.runs.push({
        id: String(job.attrs._id),
        worker,
        startedAt: Date.now(),
        lockedAt: job.attrs.lockedAt?.getTime() ?? 0,
        lastRunAt: job.attrs.lastRunAt?.getTime() ?? 0,
        nextRunAt: job.attrs.nextRunAt?.getTime(),
        data: job.attrs.data,
      });
      if (work) await work(job);
    };
  }

  countById(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const run of this.runs) counts.set(run.id, (counts.get(run.id) ?? 0) + 1);
    return counts;
  }
}

async function lockedCount(repository: JobRepository, name?: string): Promise<number> {
  return (await repository.queryJobs({ state: 'running', ...(name ? { name } : {}) })).total;
}

async function rowsOf(repository: JobRepository, name: string) {
  return (await repository.queryJobs({ name })).jobs;
}

/** Waits until the processor has scanned for work at least twice after this call. */
async function barrier(agenda: Agenda): Promise<void> {
  for (let round = 0; round < 2; round += 1) {
    let ran = false;
    const name = `barrier-${round}-${Date.now()}`;
    agenda.define(name, async () => {
      ran = true;
    });
    await agenda.now(name);
    await waitFor(`barrier job ${name}`, () => ran);
  }
}

for (const factory of backendFactories) {
  describe(`${factory.name}: Agenda contract`, function () {
    let harness: BackendHarness;
    const pool = new AgendaPool();
    let backend: AgendaBackend;
    let repository: JobRepository;
    let log: RunLog;

    before(async function () {
      harness = await factory.create();
    });
    beforeEach(async function () {
      await harness.clear();
      backend = harness.backend();
      repository = backend.repository;
      log = new RunLog();
    });
    afterEach(() => pool.stopAll());
    after(() => harness.destroy());

    describe('scheduling', function () {
      it('runs a job created with now() once, with its data, and unlocks it', async function () {
        const agenda = pool.create(backend);
        agenda.define('send', log.handler('A'));
        await agenda.start();
        const job = await agenda.now('send', { to: 'someone@example.test' });
        await waitFor('the job to finish', async () => (await repository.getJobById(String(job.attrs._id)))?.lastFinishedAt);
        assert.deepEqual(
          log.runs.map((run) => run.data),
          [{ to: 'someone@example.test' }],
        );
        const [row] = await rowsOf(repository, 'send');
        assert.equal(row?.lockedAt ?? null, null);
        assert.equal(row?.nextRunAt ?? null, null);
        assert.equal(row?.state, 'completed');
      });

      it('runs a scheduled job at its time, not before', async function () {
        const agenda = pool.create(backend);
        agenda.define('later', log.handler('A'));
        await agenda.start();
        const when = new Date(Date.now() + 400);
        await agenda.schedule(when, 'later');
        await waitFor('the scheduled job to run', () => log.runs.length === 1);
        const early = when.getTime() - log.runs[0]!.startedAt;
        assert.ok(early <= timerSlack, `ran ${early}ms early`);
      });

      it('keeps a job scheduled in words for later and does not run it now', async function () {
        const agenda = pool.create(backend);
        agenda.define('in-an-hour', log.handler('A'));
        await agenda.start();
        const job = await agenda.schedule('in 1 hour', 'in-an-hour');
        assert.ok(job.attrs.nextRunAt && job.attrs.nextRunAt.getTime() > Date.now() + 59 * 60_000);
        await barrier(agenda);
        assert.equal(log.runs.length, 0);
        const [row] = await rowsOf(repository, 'in-an-hour');
        assert.equal(row?.state, 'scheduled');
      });
    });

    describe('recurring jobs', function () {
      it('repeats an interval job, at most once per interval, across two workers', async function () {
        const a = pool.create(backend, { name: 'A' });
        const b = pool.create(harness.peerBackend(), { name: 'B' });
        a.define('tick', log.handler('A'));
        b.define('tick', log.handler('B'));
        await Promise.all([a.every(200, 'tick'), b.every(200, 'tick')]);
        assert.equal((await rowsOf(repository, 'tick')).length, 1);
        await Promise.all([a.start(), b.start()]);
        await waitFor('three runs', () => log.runs.length >= 3);
        // Agenda's own start times: the handlers may start later when the machine is busy.
        const starts = log.runs.map((run) => run.lastRunAt);
        for (let n = 1; n < starts.length; n += 1) {
          assert.ok(starts[n]! - starts[n - 1]! >= 200 - timerSlack, `runs ${n - 1} and ${n} only ${starts[n]! - starts[n - 1]!}ms apart`);
        }
        assert.equal(new Set(log.runs.map((run) => run.id)).size, 1);
      });

      it('does not duplicate a job when every() is called again, and takes the new interval', async function () {
        const agenda = pool.create(backend);
        agenda.define('report', log.handler('A'));
        await agenda.every('1 minute', 'report');
        await agenda.every('5 minutes', 'report', { kind: 'weekly' });
        const rows = await rowsOf(repository, 'report');
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.repeatInterval, '5 minutes');
        assert.deepEqual(rows[0]?.data, { kind: 'weekly' });
      });

      it('stores a cron schedule and computes its next occurrence', async function () {
        const agenda = pool.create(backend);
        agenda.define('nightly', log.handler('A'));
        const before = Date.now();
        await agenda.every('30 6 * * *', 'nightly', undefined, { timezone: 'UTC', skipImmediate: true });
        const [row] = await rowsOf(repository, 'nightly');
        assert.equal(row?.repeatInterval, '30 6 * * *');
        assert.equal(row?.repeatTimezone, 'UTC');
        const next = row?.nextRunAt;
        assert.ok(next && next.getTime() > before && next.getTime() <= before + 24 * 3600_000);
        assert.deepEqual([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()], [6, 30, 0]);
      });

      it('runs a cron job once per occurrence with two workers', async function () {
        const a = pool.create(backend, { name: 'A' });
        const b = pool.create(harness.peerBackend(), { name: 'B' });
        a.define('every-second', log.handler('A'));
        b.define('every-second', log.handler('B'));
        // Six fields: cron-parser's seconds, so the test sees several occurrences quickly.
        await Promise.all([a.every('* * * * * *', 'every-second'), b.every('* * * * * *', 'every-second')]);
        await Promise.all([a.start(), b.start()]);
        await waitFor('two cron runs', () => log.runs.length >= 2, 4000);
        // Each run schedules the occurrence after its own; a second run of the same occurrence
        // would schedule the same one again.
        const scheduled = log.runs.map((run) => run.nextRunAt);
        assert.equal(new Set(scheduled).size, scheduled.length, `runs scheduled ${scheduled.join(', ')}`);
        assert.ok(scheduled.every((next) => next !== undefined && next % 1000 === 0));
        assert.equal((await rowsOf(repository, 'every-second')).length, 1);
      });
    });

    describe('priorities and limits', function () {
      it('runs due jobs in priority order', async function () {
        const agenda = pool.create(backend, { maxConcurrency: 1 });
        agenda.define('ordered', log.handler('A'), { concurrency: 1 });
        const due = new Date(Date.now() - 1000);
        for (const [label, priority] of [['low', 'low'], ['highest', 'highest'], ['normal', 0], ['high', 10]] as const) {
          await agenda.create('ordered', { label }).priority(priority).schedule(due).save();
        }
        await agenda.start();
        await waitFor('four runs', () => log.runs.length === 4);
        assert.deepEqual(
          log.runs.map((run) => (run.data as { label: string }).label),
          ['highest', 'high', 'normal', 'low'],
        );
      });

      it('runs at most `concurrency` jobs of a kind at once', async function () {
        const agenda = pool.create(backend);
        const hold = gate();
        let running = 0;
        let peak = 0;
        agenda.define(
          'limited',
          log.handler('A', async () => {
            running += 1;
            peak = Math.max(peak, running);
            await hold.promise;
            running -= 1;
          }),
          { concurrency: 2 },
        );
        for (let n = 0; n < 6; n += 1) await agenda.now('limited', { n });
        await agenda.start();
        await waitFor('two running', () => running === 2);
        await barrier(agenda);
        assert.equal(running, 2, 'a third job started while two were running');
        hold.open();
        await waitFor('six runs to finish', async () => log.runs.length === 6 && running === 0 && (await lockedCount(repository, 'limited')) === 0);
        assert.equal(peak, 2);
      });

      // Agenda checks its lock limits before a claim and, when two scans overlapped, hands back
      // the extra job right after; so each running job waits (briefly) to see the count within
      // the limit. Were the limit ignored, all jobs would be locked and wait there until timeout.
      const withinLimitWhileRunning = (limit: number, name?: string) => () =>
        waitFor(`at most ${limit} locked`, async () => (await lockedCount(repository, name)) <= limit, 1000).then(
          () => true,
          () => false,
        );

      it('locks at most `lockLimit` jobs of a kind at once', async function () {
        const agenda = pool.create(backend);
        const checks: boolean[] = [];
        const check = withinLimitWhileRunning(1, 'lock-limited');
        agenda.define(
          'lock-limited',
          log.handler('A', async () => {
            checks.push(await check());
          }),
          { lockLimit: 1 },
        );
        for (let n = 0; n < 4; n += 1) await agenda.now('lock-limited', { n });
        await agenda.start();
        await waitFor('four runs', () => checks.length === 4, 8000);
        assert.deepEqual(checks, [true, true, true, true]);
      });

      it('locks at most the global lockLimit jobs over all kinds', async function () {
        const agenda = pool.create(backend, { lockLimit: 2 });
        const checks: boolean[] = [];
        const check = withinLimitWhileRunning(2);
        const work = async () => {
          checks.push(await check());
        };
        agenda.define('kind-a', log.handler('A', work));
        agenda.define('kind-b', log.handler('A', work));
        for (let n = 0; n < 3; n += 1) {
          await agenda.now('kind-a', { n });
          await agenda.now('kind-b', { n });
        }
        await agenda.start();
        await waitFor('six runs', () => checks.length === 6, 8000);
        assert.deepEqual(checks, [true, true, true, true, true, true]);
      });
    });

    describe('several workers', function () {
      it('runs each job exactly once with two workers on one database', async function () {
        const a = pool.create(backend, { name: 'A', defaultLockLimit: 1 });
        const b = pool.create(harness.peerBackend(), { name: 'B', defaultLockLimit: 1 });
        const slowly = () => new Promise<void>((resolve) => setTimeout(resolve, 15));
        a.define('shared', log.handler('A', slowly));
        b.define('shared', log.handler('B', slowly));
        for (let n = 0; n < 20; n += 1) await a.now('shared', { n });
        await Promise.all([a.start(), b.start()]);
        await waitFor('all twenty jobs to finish', async () => (await repository.queryJobs({ name: 'shared', state: 'completed' })).total === 20, 10_000);
        const counts = log.countById();
        assert.equal(counts.size, 20);
        assert.deepEqual(new Set(counts.values()), new Set([1]));
        assert.deepEqual(new Set(log.runs.map((run) => run.worker)), new Set(['A', 'B']), 'both workers took jobs');
      });

      it('takes over a job whose worker died holding the lock, after lockLifetime', async function () {
        const lockLifetime = 400;
        const job = await pool.create(backend).now('orphaned');
        // A worker claims the job and dies: nobody touches or releases the lock.
        const peer = harness.peerBackend();
        await peer.connect();
        const claimed = await peer.repository.getNextJobToRun('orphaned', new Date(Date.now() + 100), new Date(Date.now() - lockLifetime), undefined, undefined);
        assert.equal(claimed?._id?.toString(), job.attrs._id?.toString());
        const claimedAt = claimed?.lockedAt?.getTime() ?? 0;

        const survivor = pool.create(backend, { name: 'survivor' });
        survivor.define('orphaned', log.handler('survivor'), { lockLifetime });
        await survivor.start();
        await waitFor('the survivor to run the job', () => log.runs.length === 1);
        assert.ok(log.runs[0]!.startedAt - claimedAt >= lockLifetime, `taken over ${log.runs[0]!.startedAt - claimedAt}ms after the claim`);
        await waitFor('the job to finish', async () => (await rowsOf(repository, 'orphaned'))[0]?.state === 'completed');
        assert.equal(log.runs.length, 1);
      });

      it('runs a job again elsewhere when its worker hangs past lockLifetime', async function () {
        const lockLifetime = 300;
        const hang = gate();
        const a = pool.create(backend, { name: 'A' });
        const b = pool.create(harness.peerBackend(), { name: 'B' });
        a.define('hangs', log.handler('A', () => hang.promise), { lockLifetime });
        await a.now('hangs');
        await a.start();
        await waitFor('the first run', () => log.runs.length === 1);
        b.define('hangs', log.handler('B'), { lockLifetime });
        await b.start();
        // A's own processor may also retake it once the lock expired; either way it runs again.
        await waitFor('a second run', () => log.runs.length >= 2, 4000);
        const [first, second] = log.runs;
        // The second claim needs the first lock to be lockLifetime old.
        const sinceLock = second!.startedAt - first!.lockedAt;
        assert.ok(sinceLock >= lockLifetime, `second run ${sinceLock}ms after the first lock`);
        hang.open();
      });
    });

    describe('failures', function () {
      it('retries a failing job with the backoff strategy until it succeeds', async function () {
        const agenda = pool.create(backend);
        const retries: number[] = [];
        agenda.on('retry:flaky', (_job, details) => retries.push(details.delay));
        agenda.define(
          'flaky',
          log.handler('A', async () => {
            if (log.runs.length < 3) throw new Error(`attempt ${log.runs.length} failed`);
          }),
          { backoff: backoffStrategies.exponential({ delay: 100, factor: 2, maxRetries: 3 }) },
        );
        const job = await agenda.now('flaky');
        await agenda.start();
        await waitFor('the third attempt to succeed', async () => (await repository.queryJobs({ id: String(job.attrs._id), state: 'completed' })).total === 1);
        assert.equal(log.runs.length, 3);
        assert.deepEqual(retries, [100, 200]);
        const [first, second, third] = log.runs.map((run) => run.startedAt);
        assert.ok(second! - first! >= 100 - timerSlack && third! - second! >= 200 - timerSlack, `attempts at +${second! - first!}ms, +${third! - second!}ms`);
        const [row] = await rowsOf(repository, 'flaky');
        assert.ok(!row?.failCount, 'success resets the failure count');
        assert.equal(row?.nextRunAt ?? null, null);
      });

      it('gives up after the last retry and keeps the failure', async function () {
        const agenda = pool.create(backend);
        let exhausted = false;
        agenda.on('retry exhausted:doomed', () => {
          exhausted = true;
        });
        agenda.define(
          'doomed',
          log.handler('A', async () => {
            throw new Error('always broken');
          }),
          { backoff: backoffStrategies.constant({ delay: 50, maxRetries: 2 }) },
        );
        await agenda.now('doomed');
        await agenda.start();
        await waitFor('retries to be exhausted', async () => exhausted && (await lockedCount(repository, 'doomed')) === 0);
        assert.equal(log.runs.length, 3);
        const [row] = await rowsOf(repository, 'doomed');
        assert.equal(row?.state, 'failed');
        assert.equal(row?.failCount, 3);
        assert.equal(row?.failReason, 'always broken');
        assert.equal(row?.nextRunAt ?? null, null);
      });
    });

    describe('unique jobs', function () {
      it('keeps one job per unique key and runs it once', async function () {
        const agenda = pool.create(backend);
        agenda.define('sync-user', log.handler('A'));
        const due = new Date(Date.now() + 300);
        for (const version of [1, 2, 3]) await agenda.create('sync-user', { userId: 7, version }).unique({ 'data.userId': 7 }).schedule(due).save();
        await agenda.create('sync-user', { userId: 8, version: 1 }).unique({ 'data.userId': 8 }).schedule(due).save();
        await agenda.create('sync-user', { userId: 7, version: 4 }).unique({ 'data.userId': 7 }, { insertOnly: true }).schedule(due).save();
        const rows = await rowsOf(repository, 'sync-user');
        assert.deepEqual(rows.map((row) => row.data).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), [
          { userId: 7, version: 3 },
          { userId: 8, version: 1 },
        ]);
        await agenda.start();
        await waitFor('both jobs to run', () => log.runs.length === 2);
        await barrier(agenda);
        assert.equal(log.runs.length, 2);
      });

      it('debounces rapid saves into one run with the last data', async function () {
        const agenda = pool.create(backend);
        agenda.define('reindex', log.handler('A'));
        let lastSave = 0;
        for (const version of [1, 2, 3]) {
          lastSave = Date.now();
          await agenda.nowDebounced('reindex', { entity: 'products', version }, { 'data.entity': 'products' }, 150);
        }
        const rows = await rowsOf(repository, 'reindex');
        assert.equal(rows.length, 1);
        assert.ok((rows[0]?.nextRunAt?.getTime() ?? 0) >= lastSave + 150, 'the last save moved the run');
        await agenda.start();
        await waitFor('the debounced run', () => log.runs.length === 1);
        assert.deepEqual(log.runs[0]?.data, { entity: 'products', version: 3 });
        await barrier(agenda);
        assert.equal(log.runs.length, 1);
      });
    });

    describe('disable, enable, cancel, purge', function () {
      it('does not run disabled jobs, and runs them once enabled', async function () {
        const agenda = pool.create(backend);
        agenda.define('paused', log.handler('A'));
        const job = await agenda.now('paused');
        await job.disable().save();
        await agenda.every('1 hour', 'paused-recurring');
        agenda.define('paused-recurring', log.handler('A'));
        assert.equal(await agenda.disable({ name: 'paused-recurring' }), 1);
        await agenda.start();
        await barrier(agenda);
        assert.equal(log.runs.length, 0);
        assert.equal((await repository.queryJobs({ state: 'paused' })).total, 2);

        assert.equal(await agenda.enable({ name: 'paused' }), 1);
        await waitFor('the enabled job to run', () => log.runs.length === 1);
        assert.equal(log.runs[0]?.id, String(job.attrs._id));
      });

      it('cancels jobs by name, by data and by id, and cancelled jobs never run', async function () {
        const agenda = pool.create(backend);
        agenda.define('cancel-me', log.handler('A'));
        const soon = new Date(Date.now() + 200);
        await agenda.schedule(soon, 'cancel-me', { n: 1 });
        await agenda.schedule(soon, 'cancel-me', { n: 2 });
        await agenda.schedule(soon, 'cancel-me', { n: 3, tenant: { id: 'x' } });
        const byId = await agenda.schedule(soon, 'cancel-me', { n: 4 });
        assert.equal(await agenda.cancel({ data: { tenant: { id: 'x' } } }), 1);
        assert.equal(await byId.remove(), 1);
        assert.equal(await agenda.cancel({ name: 'cancel-me', data: { n: 1 } }), 1);
        assert.equal(await agenda.cancel({ name: 'cancel-me' }), 1);
        assert.equal((await repository.queryJobs()).total, 0);
        await agenda.start();
        await waitFor('the cancelled time to pass', () => Date.now() > soon.getTime() + 100);
        await barrier(agenda);
        assert.equal(log.runs.length, 0);
      });

      it('purges the jobs that have no definition', async function () {
        const agenda = pool.create(backend);
        agenda.define('known', log.handler('A'));
        await agenda.schedule('in 1 hour', 'known');
        await agenda.schedule('in 1 hour', 'orphan');
        await agenda.schedule('in 1 hour', 'orphan');
        assert.equal(await agenda.purge(), 2);
        assert.deepEqual(await repository.getDistinctJobNames(), ['known']);
      });
    });

    describe('shutdown', function () {
      it('stop() unlocks jobs not started at once, and a running job when it finishes', async function () {
        const hold = gate();
        const agenda = pool.create(backend);
        agenda.define('held', log.handler('A', () => hold.promise), { concurrency: 1 });
        for (let n = 0; n < 3; n += 1) await agenda.now('held', { n });
        await agenda.start();
        await waitFor('one running and two locked', async () => log.runs.length === 1 && (await lockedCount(repository, 'held')) === 3);
        await agenda.stop();
        assert.equal(await lockedCount(repository, 'held'), 1, 'only the running job is still locked');
        hold.open();
        await waitFor('the running job to finish and unlock', async () => (await lockedCount(repository)) === 0);

        // The other jobs are free for the next worker at once, not after their lock lifetime.
        const next = pool.create(harness.peerBackend(), { name: 'next' });
        next.define('held', log.handler('next'));
        await next.start();
        await waitFor('the next worker to run the rest', () => log.runs.length === 3);
      });

      it('drain() waits for running jobs to finish', async function () {
        const agenda = pool.create(backend);
        let finished = 0;
        agenda.define(
          'draining',
          log.handler('A', async () => {
            await new Promise((resolve) => setTimeout(resolve, 150));
            finished += 1;
          }),
        );
        await agenda.now('draining');
        await agenda.now('draining');
        await agenda.start();
        await waitFor('both jobs to start', () => log.runs.length === 2);
        const result = await agenda.drain();
        assert.equal(finished, 2);
        assert.deepEqual(result, { completed: 2, running: 0, timedOut: false, aborted: false });
        assert.equal(await lockedCount(repository), 0);
      });

      if (factory.releasesQueuedLocksOnDrain) {
        it('drain() leaves nothing locked, also jobs locked but not started', async function () {
          const agenda = pool.create(backend);
          agenda.define(
            'queued-behind',
            log.handler('A', () => new Promise((resolve) => setTimeout(resolve, 100))),
            { concurrency: 1 },
          );
          for (let n = 0; n < 4; n += 1) await agenda.now('queued-behind', { n });
          await agenda.start();
          await waitFor('one running and the rest locked', async () => log.runs.length === 1 && (await lockedCount(repository, 'queued-behind')) === 4);
          await agenda.drain();
          assert.equal(await lockedCount(repository), 0);

          const next = pool.create(harness.peerBackend(), { name: 'next' });
          next.define('queued-behind', log.handler('next'));
          await next.start();
          await waitFor('the next worker to run the rest', () => log.runs.length === 4);
        });
      }
    });
  });
}
