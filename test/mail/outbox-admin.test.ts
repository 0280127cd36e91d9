import assert from 'node:assert/strict';
import { NotFoundError, ValidationError } from '../../src/domain/errors.js';
import { listMail, retryMail } from '../../src/mail/outbox-admin.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { insertMail, outboxRows } from './mail-helpers.js';

describe('mail: outbox administration (mail:list, mail:retry)', () => {
  let db: TestDatabase;
  let ids: number[];
  const now = Date.now();

  beforeEach(async () => {
    db = await createTestDatabase();
    ids = await insertMail(db.knex, [
      { status: 'sent', attempts: 1 },
      { status: 'dead', attempts: 8, address: 'dead1@example.test' },
      { status: 'pending', attempts: 2, nextAttemptAt: now + 600_000 },
      { status: 'dead', attempts: 1, address: 'dead2@example.test' },
      { status: 'pending', claimedBy: 'busy-worker', claimedUntil: now + 60_000 },
    ]);
    await db.knex('outbox').whereIn('status', ['dead']).update({ last_error: 'EENVELOPE: 550: no such user' });
  });
  afterEach(() => db.destroy());

  it('lists mail newest first, dead only on request, without payloads', async () => {
    const all = await listMail(db.knex, {});
    assert.deepEqual(
      all.map((entry) => entry.id),
      [...ids].reverse(),
    );
    const dead = await listMail(db.knex, { dead: true, limit: 1 });
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.id, ids[3]);
    assert.equal(dead[0]?.status, 'dead');
    assert.equal(dead[0]?.recipientAddress, 'dead2@example.test');
    assert.equal(dead[0]?.lastError, 'EENVELOPE: 550: no such user');
    assert.equal(typeof dead[0]?.createdAt, 'number');
    assert.ok(!('payload' in (dead[0] ?? {})), 'payloads hold tokens and are never listed');
    await assert.rejects(listMail(db.knex, { limit: 0 }), ValidationError);
    await assert.rejects(listMail(db.knex, { limit: 1.5 }), ValidationError);
  });

  it('retries one dead mail: pending, attempts 0, due now', async () => {
    assert.deepEqual(await retryMail(db.knex, { id: ids[1] ?? 0 }, () => now), { retried: 1 });
    const row = (await outboxRows(db.knex)).find((r) => r.id === ids[1]);
    assert.equal(row?.status, 'pending');
    assert.equal(row?.attempts, 0);
    assert.equal(row?.next_attempt_at, now);
    // A waiting mail can be pulled forward too.
    assert.deepEqual(await retryMail(db.knex, { id: ids[2] ?? 0 }, () => now), { retried: 1 });
    assert.equal((await outboxRows(db.knex)).find((r) => r.id === ids[2])?.next_attempt_at, now);
  });

  it('retries every dead mail at once', async () => {
    assert.deepEqual(await retryMail(db.knex, { allDead: true }), { retried: 2 });
    assert.deepEqual(await listMail(db.knex, { dead: true }), []);
  });

  it('refuses unknown ids, sent mail and mail being sent right now', async () => {
    await assert.rejects(retryMail(db.knex, { id: 999_999 }), (error: unknown) => error instanceof NotFoundError && error.messageKey === 'mail.errors.notFound');
    await assert.rejects(retryMail(db.knex, { id: ids[0] ?? 0 }), (error: unknown) => error instanceof ValidationError && error.messageKey === 'mail.errors.notRetryable' && error.params.status === 'sent');
    await assert.rejects(retryMail(db.knex, { id: ids[4] ?? 0 }, () => now), ValidationError);
    await assert.rejects(retryMail(db.knex, { id: -1 }), (error: unknown) => error instanceof ValidationError && error.messageKey === 'mail.errors.id');
    assert.equal((await outboxRows(db.knex)).find((r) => r.id === ids[4])?.claimed_by, 'busy-worker');
  });
});
