// The JobRepository contract of Agenda 6, run against every backend factory (see harness.ts),
// plus the guarantees specific to our Knex backend.
import assert from 'node:assert/strict';
import type { JobParameters, JobRepository } from 'agenda';
import { KnexBackend, KnexJobRepository } from '../../../src/worker/agenda-knex/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-database.js';
import { backendFactories, type BackendHarness } from './harness.js';

const minute = 60_000;

function job(overrides: Partial<JobParameters> = {}): JobParameters {
  return { name: 'job', priority: 0, nextRunAt: new Date(), type: 'normal', data: {}, ...overrides };
}

function idOf(saved: JobParameters): string {
  assert.ok(saved._id, 'saved job has an id');
  return saved._id.toString();
}

async function connected(harness: BackendHarness, peer = false): Promise<JobRepository> {
  const backend = peer ? harness.peerBackend() : harness.backend();
  await backend.connect();
  return backend.repository;
}

for (const factory of backendFactories) {
  describe(`${factory.name}: JobRepository contract`, function () {
    let harness: BackendHarness;
    let repo: JobRepository;
    const save = (params: Partial<JobParameters>) => repo.saveJob(job(params), undefined);
    const scan = (name: string, lockDeadline = new Date(Date.now() - 10 * minute)) =>
      repo.getNextJobToRun(name, new Date(Date.now() + 1000), lockDeadline, undefined, undefined);

    before(async function () {
      harness = await factory.create();
      repo = await connected(harness);
    });
    beforeEach(() => harness.clear());
    after(() => harness.destroy());

    describe('saveJob / getJobById', function () {
      it('inserts a job with an id and reads it back with the same fields', async function () {
        const nextRunAt = new Date(Date.now() + minute);
        const data = { text: 'grüße, "quoted"', nested: { list: [1, 2, { deep: true }] }, none: null };
        const saved = await save({ name: 'round-trip', priority: 10, nextRunAt, data, repeatTimezone: 'Europe/Lisbon', disabled: true });
        const read = await repo.getJobById(idOf(saved));
        assert.ok(read);
        assert.equal(read._id, saved._id);
        assert.equal(read.name, 'round-trip');
        assert.equal(read.priority, 10);
        assert.equal(read.type, 'normal');
        assert.deepEqual(read.data, data);
        assert.equal(read.nextRunAt?.getTime(), nextRunAt.getTime());
        assert.equal(read.repeatTimezone, 'Europe/Lisbon');
        assert.equal(read.disabled, true);
      });

      it('updates a job that has an id', async function () {
        const saved = await save({ name: 'update', priority: 5, data: { version: 1 } });
        const updated = await repo.saveJob({ ...saved, priority: 20, data: { version: 2 } }, undefined);
        assert.equal(updated._id, saved._id);
        assert.equal(updated.priority, 20);
        assert.deepEqual(updated.data, { version: 2 });
        assert.equal((await repo.queryJobs({ name: 'update' })).total, 1);
      });

      it('upserts a single-type job by name (every())', async function () {
        const later = new Date(Date.now() + 2 * minute);
        const first = await save({ name: 'single', type: 'single', priority: 5, nextRunAt: new Date(Date.now() + minute), data: { run: 1 } });
        const second = await save({ name: 'single', type: 'single', priority: 10, nextRunAt: later, repeatInterval: '5 minutes', data: { run: 2 } });
        assert.equal(second._id, first._id);
        assert.equal(second.priority, 10);
        assert.equal(second.repeatInterval, '5 minutes');
        assert.deepEqual(second.data, { run: 2 });
        assert.equal(second.nextRunAt?.getTime(), later.getTime());
        assert.equal((await repo.queryJobs({ name: 'single' })).total, 1);
      });

      it('keeps the existing schedule of a single-type job when saved again with a due nextRunAt', async function () {
        const scheduled = new Date(Date.now() + minute);
        await save({ name: 'single-due', type: 'single', nextRunAt: scheduled });
        const again = await save({ name: 'single-due', type: 'single', nextRunAt: new Date() });
        assert.equal(again.nextRunAt?.getTime(), scheduled.getTime());
      });

      it('upserts by a unique key, and leaves the job alone with insertOnly', async function () {
        const first = await save({ name: 'unique', data: { userId: 1, v: 1 }, unique: { 'data.userId': 1 } });
        const second = await save({ name: 'unique', data: { userId: 1, v: 2 }, unique: { 'data.userId': 1 } });
        const other = await save({ name: 'unique', data: { userId: 2, v: 1 }, unique: { 'data.userId': 2 } });
        assert.equal(second._id, first._id);
        assert.deepEqual(second.data, { userId: 1, v: 2 });
        assert.notEqual(other._id, first._id);
        const kept = await save({ name: 'unique', data: { userId: 1, v: 3 }, unique: { 'data.userId': 1 }, uniqueOpts: { insertOnly: true } });
        assert.equal(kept._id, first._id);
        assert.deepEqual(kept.data, { userId: 1, v: 2 });
        assert.equal((await repo.queryJobs({ name: 'unique' })).total, 2);
      });

      it('returns null for the id of a removed job', async function () {
        const saved = await save({ name: 'gone' });
        await repo.removeJobs({ id: saved._id });
        assert.equal(await repo.getJobById(idOf(saved)), null);
      });
    });

    describe('queries', function () {
      beforeEach(async function () {
        await save({ name: 'job-a', priority: 10, nextRunAt: new Date(Date.now() + minute), data: { kind: 'alpha', n: 1, tags: ['x'] } });
        await save({ name: 'job-b', priority: 5, nextRunAt: new Date(Date.now() + 2 * minute), data: { kind: 'beta', n: 2, meta: { region: 'eu', tier: 1 } } });
        await save({ name: 'job-a', priority: 15, nextRunAt: new Date(Date.now() + 3 * minute), data: { kind: 'alpha', n: 3, meta: { region: 'us' } } });
        await save({ name: 'Other-Job', priority: 0, nextRunAt: new Date(Date.now() - minute), data: { kind: 'gamma' }, disabled: true });
      });

      it('filters by name, names, search and ids', async function () {
        assert.equal((await repo.queryJobs()).total, 4);
        assert.equal((await repo.queryJobs({ name: 'job-a' })).total, 2);
        assert.equal((await repo.queryJobs({ names: ['job-a', 'job-b'] })).total, 3);
        assert.equal((await repo.queryJobs({ search: 'other' })).total, 1, 'search ignores case');
        assert.equal((await repo.queryJobs({ search: 'job' })).total, 4);
        const [first, second] = (await repo.queryJobs({ name: 'job-a' })).jobs;
        assert.ok(first && second);
        assert.equal((await repo.queryJobs({ ids: [first._id, second._id] })).total, 2);
        const byId = await repo.queryJobs({ id: first._id });
        assert.deepEqual(byId.jobs.map((found) => found._id), [first._id]);
      });

      it('filters by data: partial and nested objects match, values must be equal', async function () {
        assert.equal((await repo.queryJobs({ data: { kind: 'alpha' } })).total, 2);
        assert.equal((await repo.queryJobs({ data: { meta: { region: 'eu' } } })).total, 1);
        assert.equal((await repo.queryJobs({ data: { kind: 'alpha', n: 3 } })).total, 1);
        assert.equal((await repo.queryJobs({ data: { tags: ['x'] } })).total, 1);
        assert.equal((await repo.queryJobs({ data: { n: '1' } })).total, 0, 'a string does not match a number');
        assert.equal((await repo.queryJobs({ data: { kind: 'delta' } })).total, 0);
      });

      it('paginates with skip and limit, sorts, and leaves out disabled jobs on request', async function () {
        const page = await repo.queryJobs({ sort: { priority: 'desc' }, skip: 1, limit: 2 });
        assert.equal(page.total, 4);
        assert.deepEqual(
          page.jobs.map((found) => found.priority),
          [10, 5],
        );
        assert.equal((await repo.queryJobs({ includeDisabled: false })).total, 3);
      });

      it('computes and filters by state', async function () {
        const [first] = (await repo.queryJobs({ name: 'job-a', sort: { priority: 'asc' } })).jobs;
        assert.ok(first);
        assert.equal(first.state, 'scheduled');
        assert.ok(await repo.lockJob(first, undefined));
        await save({ name: 'recurring', type: 'single', repeatInterval: '1 hour', nextRunAt: new Date(Date.now() + minute) });
        const failed = await save({ name: 'broken' });
        await repo.saveJobState({ ...failed, nextRunAt: null, failedAt: new Date(), failCount: 1, failReason: 'boom', lastFinishedAt: new Date() }, undefined);
        const done = await save({ name: 'done' });
        await repo.saveJobState({ ...done, nextRunAt: null, lastRunAt: new Date(), lastFinishedAt: new Date() }, undefined);

        const names = async (state: NonNullable<Parameters<JobRepository['queryJobs']>[0]>['state']) =>
          (await repo.queryJobs({ state, sort: { name: 'asc' } })).jobs.map((found) => `${found.name}:${found.state}`);
        assert.deepEqual(await names('running'), ['job-a:running']);
        assert.deepEqual(await names('scheduled'), ['job-a:scheduled', 'job-b:scheduled']);
        assert.deepEqual(await names('queued'), ['Other-Job:queued']);
        assert.deepEqual(await names('failed'), ['broken:failed']);
        assert.deepEqual(await names('repeating'), ['recurring:repeating']);
        assert.deepEqual(await names('completed'), ['done:completed']);
        assert.deepEqual(await names('paused'), ['Other-Job:queued']);
      });

      it('gives an overview per job name', async function () {
        const overview = await repo.getJobsOverview();
        const jobA = overview.find((entry) => entry.name === 'job-a');
        const other = overview.find((entry) => entry.name === 'Other-Job');
        assert.deepEqual(jobA, { name: 'job-a', total: 2, running: 0, scheduled: 2, queued: 0, completed: 0, failed: 0, repeating: 0, paused: 0 });
        assert.deepEqual(other, { name: 'Other-Job', total: 1, running: 0, scheduled: 0, queued: 1, completed: 0, failed: 0, repeating: 0, paused: 1 });
        assert.equal(overview.length, 3);
      });

      it('lists distinct names and counts due jobs', async function () {
        assert.deepEqual([...(await repo.getDistinctJobNames())].sort(), ['Other-Job', 'job-a', 'job-b']);
        assert.equal(await repo.getQueueSize(), 1);
      });
    });

    describe('remove, disable, enable, purge', function () {
      it('removes by id, ids, name, names, notNames and data', async function () {
        const one = await save({ name: 'r1', data: { group: 'g1' } });
        const two = await save({ name: 'r2', data: { group: 'g1' } });
        await save({ name: 'r3', data: { group: 'g2', sub: { k: 1 } } });
        await save({ name: 'r4' });
        await save({ name: 'r4' });
        assert.equal(await repo.removeJobs({ id: one._id }), 1);
        assert.equal(await repo.removeJobs({ ids: [two._id!] }), 1);
        assert.equal(await repo.removeJobs({ data: { sub: { k: 1 } } }), 1);
        assert.equal(await repo.removeJobs({ name: 'nothing' }), 0);
        assert.equal(await repo.removeJobs({ notNames: ['r4'] }), 0);
        await save({ name: 'r5' });
        assert.equal(await repo.removeJobs({ notNames: ['r4'] }), 1);
        assert.equal(await repo.removeJobs({ names: ['r4', 'r5'] }), 2);
        assert.equal((await repo.queryJobs()).total, 0);
      });

      it('removes nothing when no criteria are given', async function () {
        await save({ name: 'stay' });
        assert.equal(await repo.removeJobs({}), 0);
        assert.equal(await repo.removeJobs({ notNames: [] }), 0);
        assert.equal((await repo.queryJobs()).total, 1);
      });

      it('disables and enables jobs, counting the ones that changed', async function () {
        await save({ name: 'd', data: { team: 'a' } });
        await save({ name: 'd', data: { team: 'b' } });
        assert.equal(await repo.disableJobs({ name: 'd' }), 2);
        assert.equal(await repo.disableJobs({ name: 'd' }), 0);
        assert.equal((await repo.queryJobs({ name: 'd', includeDisabled: false })).total, 0);
        assert.equal(await repo.enableJobs({ name: 'd', data: { team: 'b' } }), 1);
        const jobs = (await repo.queryJobs({ name: 'd', sort: { data: 'asc' } })).jobs;
        assert.deepEqual(
          jobs.map((found) => [found.data, found.disabled]),
          [
            [{ team: 'a' }, true],
            [{ team: 'b' }, false],
          ],
        );
        assert.equal(await repo.enableJobs({}), 0);
      });

      it('purges all jobs', async function () {
        await save({ name: 'p1' });
        await save({ name: 'p2' });
        assert.equal(await repo.purgeAllJobs(), 2);
        assert.equal((await repo.queryJobs()).total, 0);
      });
    });

    describe('locking', function () {
      it('locks an unlocked job once, and not a disabled or rescheduled one', async function () {
        const saved = await save({ name: 'lock', nextRunAt: new Date(Date.now() - 1000) });
        const locked = await repo.lockJob(saved, undefined);
        assert.ok(locked?.lockedAt);
        assert.equal(locked._id, saved._id);
        assert.equal(await repo.lockJob(saved, undefined), undefined, 'already locked');

        const disabled = await save({ name: 'lock', disabled: true });
        assert.equal(await repo.lockJob(disabled, undefined), undefined, 'disabled');
        const moved = await save({ name: 'lock' });
        assert.equal(await repo.lockJob({ ...moved, nextRunAt: new Date(Date.now() + minute) }, undefined), undefined, 'nextRunAt changed');
      });

      it('claims the next due job: earliest first, then highest priority, never a disabled or future one', async function () {
        const past = new Date(Date.now() - minute);
        await save({ name: 'next', priority: 5, nextRunAt: past, data: { pick: 'low' } });
        await save({ name: 'next', priority: 10, nextRunAt: past, data: { pick: 'high' } });
        await save({ name: 'next', priority: 20, nextRunAt: new Date(Date.now() - 1000), data: { pick: 'later' } });
        await save({ name: 'next', priority: 99, nextRunAt: new Date(Date.now() - 2 * minute), disabled: true });
        await save({ name: 'next', priority: 99, nextRunAt: new Date(Date.now() + minute) });
        await save({ name: 'other', nextRunAt: new Date(Date.now() - 3 * minute) });
        const order = [];
        for (let claimed = await scan('next'); claimed; claimed = await scan('next')) {
          assert.ok(claimed.lockedAt);
          order.push(claimed.data);
        }
        assert.deepEqual(order, [{ pick: 'high' }, { pick: 'low' }, { pick: 'later' }]);
      });

      it('takes over a lock only after it expired', async function () {
        await save({ name: 'expiry', nextRunAt: new Date(Date.now() - 1000) });
        const first = await scan('expiry');
        assert.ok(first?.lockedAt);
        assert.equal(await scan('expiry'), undefined, 'lock still valid');
        const deadline = new Date(first.lockedAt.getTime() + 1);
        const taken = await scan('expiry', deadline);
        assert.equal(taken?._id, first._id);
        assert.ok(taken?.lockedAt && taken.lockedAt.getTime() >= first.lockedAt.getTime());
      });

      it('hands each due job to exactly one of two workers claiming at once', async function () {
        const peer = await connected(harness, true);
        const saved = await Promise.all(Array.from({ length: 10 }, (_, n) => save({ name: 'race', nextRunAt: new Date(Date.now() - 1000), data: { n } })));
        const lockDeadline = new Date(Date.now() - 10 * minute);
        const claims = await Promise.all(
          Array.from({ length: 30 }, (_, n) =>
            (n % 2 === 0 ? repo : peer).getNextJobToRun('race', new Date(Date.now() + 1000), lockDeadline, undefined, undefined),
          ),
        );
        const ids = claims.filter((claimed) => claimed !== undefined).map((claimed) => claimed._id?.toString());
        assert.equal(ids.length, 10);
        assert.equal(new Set(ids).size, 10);
        assert.deepEqual([...ids].sort(), saved.map(idOf).sort());
      });

      it('saves job state and clears the lock; fails for a removed job', async function () {
        const saved = await save({ name: 'state', nextRunAt: new Date(Date.now() - 1000) });
        const locked = await repo.lockJob(saved, undefined);
        assert.ok(locked);
        const now = new Date();
        await repo.saveJobState({ ...locked, lockedAt: undefined, lastRunAt: now, lastFinishedAt: now, progress: 50, failCount: 1, failReason: 'Test error', failedAt: now }, undefined);
        const read = await repo.getJobById(idOf(saved));
        assert.ok(read);
        assert.equal(read.lockedAt ?? null, null);
        assert.equal(read.lastRunAt?.getTime(), now.getTime());
        assert.equal(read.progress, 50);
        assert.equal(read.failCount, 1);
        assert.equal(read.failReason, 'Test error');
        await repo.removeJobs({ id: saved._id });
        await assert.rejects(repo.saveJobState(read, undefined));
      });

      it('unlocks jobs, but not one that is being processed (nextRunAt null)', async function () {
        const a = await save({ name: 'unlock', nextRunAt: new Date(Date.now() - 1000) });
        const b = await save({ name: 'unlock', nextRunAt: new Date(Date.now() - 1000) });
        const lockedA = await repo.lockJob(a, undefined);
        const lockedB = await repo.lockJob(b, undefined);
        assert.ok(lockedA && lockedB);
        await repo.saveJobState({ ...lockedB, nextRunAt: null, lastRunAt: new Date() }, undefined);
        await repo.unlockJob(lockedA);
        await repo.unlockJob({ ...lockedB, nextRunAt: null });
        assert.equal((await repo.getJobById(idOf(a)))?.lockedAt ?? null, null);
        assert.ok((await repo.getJobById(idOf(b)))?.lockedAt, 'running job keeps its lock');
        await repo.unlockJobs([b._id!]);
        assert.equal((await repo.getJobById(idOf(b)))?.lockedAt ?? null, null);
      });
    });
  });
}

describe('Knex backend specifics', function () {
  let db: TestDatabase;
  let repo: KnexJobRepository;
  const save = (params: Partial<JobParameters>) => repo.saveJob(job(params), undefined);

  before(async function () {
    db = await createTestDatabase();
    const backend = new KnexBackend({ knex: db.knex });
    await backend.connect();
    repo = backend.repository;
  });
  beforeEach(async function () {
    await db.knex('agenda_jobs').del();
    await repo.connect();
  });
  after(() => db.destroy());

  it('stores times as epoch milliseconds and data as JSON text', async function () {
    const nextRunAt = new Date(Date.now() + minute);
    const saved = await save({ name: 'storage', nextRunAt, data: { a: 1 }, repeatInterval: 5000, skipDays: [0, 6] });
    const row: unknown = await db.knex('agenda_jobs').where('id', Number(saved._id)).first();
    assert.ok(row && typeof row === 'object');
    assert.deepEqual(
      { next_run_at: 'next_run_at' in row && row.next_run_at, data: 'data' in row && row.data },
      { next_run_at: nextRunAt.getTime(), data: '{"a":1}' },
    );
    const read = await repo.getJobById(idOf(saved));
    assert.equal(read?.repeatInterval, 5000, 'a numeric interval stays a number');
    assert.deepEqual(read?.skipDays, [0, 6]);
  });

  it('fails clearly when the table is missing', async function () {
    await assert.rejects(new KnexBackend({ knex: db.knex, tableName: 'no_such_table' }).connect(), /run the database migrations/);
  });

  it('matches nothing for ids that are not ours', async function () {
    await save({ name: 'ids' });
    assert.equal(await repo.getJobById('64b7f0c2e4b0a1a2b3c4d5e6'), null);
    assert.equal(await repo.removeJobs({ id: 'not-an-id' }), 0);
    assert.equal((await repo.queryJobs({ id: 'x' })).total, 0);
  });

  it('keeps types apart when matching data', async function () {
    await save({ name: 'types', data: { flag: true, n: 1, s: '1', nothing: null } });
    assert.equal((await repo.queryJobs({ data: { flag: true } })).total, 1);
    assert.equal((await repo.queryJobs({ data: { flag: 1 } })).total, 0);
    assert.equal((await repo.queryJobs({ data: { n: 1 } })).total, 1);
    assert.equal((await repo.queryJobs({ data: { s: 1 } })).total, 0);
    assert.equal((await repo.queryJobs({ data: { nothing: null, missing: null } })).total, 1);
  });

  it('refuses unique() keys it cannot express instead of ignoring them', async function () {
    await assert.rejects(save({ name: 'u', data: { n: 2 }, unique: { 'data.n': { $gt: 1 } } }), /operators are not supported/);
    await assert.rejects(save({ name: 'u', unique: { someField: 1 } }), /unsupported key/);
  });

  it('does not release a lock, or run bookkeeping, when the job definition is saved again', async function () {
    const saved = await save({ name: 'keep-lock', type: 'single', repeatInterval: '1 minute', nextRunAt: new Date(Date.now() - 1000) });
    const locked = await repo.lockJob(saved, undefined);
    assert.ok(locked?.lockedAt);
    await repo.saveJobState({ ...locked, lastRunAt: new Date(), failCount: 2 }, undefined);
    await save({ name: 'keep-lock', type: 'single', repeatInterval: '2 minutes', nextRunAt: new Date() });
    const read = await repo.getJobById(idOf(saved));
    assert.equal(read?.lockedAt?.getTime(), locked.lockedAt.getTime());
    assert.equal(read?.failCount, 2);
    assert.equal(read?.repeatInterval, '2 minutes');
  });

  it('keeps a recurring job disabled when every() saves it again', async function () {
    await save({ name: 'stay-off', type: 'single', repeatInterval: '1 minute' });
    assert.equal(await repo.disableJobs({ name: 'stay-off' }), 1);
    const again = await save({ name: 'stay-off', type: 'single', repeatInterval: '1 minute' });
    assert.equal(again.disabled, true);
    const enabled = await save({ name: 'stay-off', type: 'single', repeatInterval: '1 minute', disabled: false });
    assert.equal(enabled.disabled, false);
  });

  it('keeps unique jobs unique when two workers save them at once', async function () {
    const peerKnex = db.connect();
    const peer = new KnexJobRepository({ knex: peerKnex });
    const saves = Array.from({ length: 20 }, (_, n) =>
      (n % 2 === 0 ? repo : peer).saveJob(job({ name: 'sync', data: { userId: n % 3, n }, unique: { 'data.userId': n % 3 } }), undefined),
    );
    // Plain queries on the same pool while the serialized saves run: on SQLite's single
    // connection this would deadlock if a save queried outside its transaction.
    const reads = Array.from({ length: 5 }, () => repo.queryJobs({ name: 'sync' }));
    await Promise.all([...saves, ...reads]);
    const jobs = (await repo.queryJobs({ name: 'sync' })).jobs;
    assert.deepEqual(jobs.map((found) => (found.data as { userId: number }).userId).sort(), [0, 1, 2]);
  });

  it('debounces unique jobs: trailing moves nextRunAt, leading keeps it', async function () {
    const first = await save({ name: 'debounced', data: { v: 1 }, unique: { 'data.key': 'k' }, uniqueOpts: { debounce: { delay: 10 * minute } } });
    assert.ok(first.nextRunAt && first.nextRunAt.getTime() > Date.now() + 9 * minute);
    const second = await save({ name: 'debounced', data: { key: 'k', v: 2 }, unique: { 'data.key': 'k' } });
    assert.notEqual(second._id, first._id, 'the first job had no data.key');
    const third = await save({ name: 'debounced', data: { key: 'k', v: 3 }, unique: { 'data.key': 'k' }, uniqueOpts: { debounce: { delay: 5 * minute, maxWait: 0 } } });
    assert.equal(third._id, second._id);
    assert.ok(third.nextRunAt && third.nextRunAt.getTime() > Date.now() + 4 * minute);
    assert.ok(third.debounceStartedAt);

    const now = new Date();
    const leading = await save({ name: 'leading', nextRunAt: now, data: { key: 1 }, unique: { 'data.key': 1 }, uniqueOpts: { debounce: { delay: minute, strategy: 'leading' } } });
    const again = await save({ name: 'leading', nextRunAt: new Date(Date.now() + 5000), data: { key: 1, v: 2 }, unique: { 'data.key': 1 }, uniqueOpts: { debounce: { delay: minute, strategy: 'leading' } } });
    assert.equal(again._id, leading._id);
    assert.equal(again.nextRunAt?.getTime(), now.getTime());
    assert.deepEqual(again.data, { key: 1, v: 2 });
  });

  it('reports a failed unlockJob instead of rejecting: Agenda does not await it', async function () {
    const saved = await save({ name: 'unlock-fails' });
    const lost = db.connect();
    await lost.destroy();
    const reported: [unknown, number][] = [];
    const broken = new KnexJobRepository({ knex: lost, onUnlockError: (error, jobId) => reported.push([error, jobId]) });
    await broken.unlockJob(saved);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]?.[1], Number(saved._id));
    assert.ok(reported[0]?.[0] instanceof Error);
  });

  it('on disconnect releases the locks it holds for jobs not started, and takes no new ones', async function () {
    const backend = new KnexBackend({ knex: db.knex });
    await backend.connect();
    const own = backend.repository;
    const past = new Date(Date.now() - 1000);
    const queued = await save({ name: 'release', nextRunAt: past, data: { role: 'queued' } });
    const running = await save({ name: 'release', nextRunAt: past, data: { role: 'running' } });
    const takenOver = await save({ name: 'release', nextRunAt: past, data: { role: 'taken-over' } });
    const lockDeadline = new Date(Date.now() - minute);
    for (let n = 0; n < 3; n += 1) assert.ok(await own.getNextJobToRun('release', new Date(), lockDeadline, undefined, undefined));
    const runningLock = (await repo.getJobById(idOf(running)))?.lockedAt;
    assert.ok(runningLock);
    await own.saveJobState({ ...(await repo.getJobById(idOf(running)))!, lastRunAt: new Date(), nextRunAt: null }, undefined);
    // Another worker took this one over after the lock expired.
    await db.knex('agenda_jobs').where('id', Number(takenOver._id)).update({ locked_at: Date.now() + 5 });

    await backend.disconnect();
    assert.equal((await repo.getJobById(idOf(queued)))?.lockedAt ?? null, null);
    assert.ok((await repo.getJobById(idOf(running)))?.lockedAt, 'running job keeps its lock');
    assert.ok((await repo.getJobById(idOf(takenOver)))?.lockedAt, "another worker's lock is kept");
    assert.equal(await own.getNextJobToRun('release', new Date(), lockDeadline, undefined, undefined), undefined);
    await backend.connect();
    assert.ok(await own.getNextJobToRun('release', new Date(), lockDeadline, undefined, undefined));
  });
});
