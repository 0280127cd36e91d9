// The rate limits' counters share the app's database (and, on SQLite, its one connection): counting
// must neither break nor join the app's own transactions.
import assert from 'node:assert/strict';
import { RateLimitedError } from '../../src/domain/errors.js';
import { createRateLimits } from '../../src/web/middleware/rate-limits.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('web: rate limits in the database', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.destroy());

  it('counts while the app runs its own transactions on the same connection', async () => {
    const limits = createRateLimits(db.knex);
    await db.knex.schema.createTable('probe_items', (table) => {
      table.increments('id');
      table.integer('n').notNullable();
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? limits.loginFailed(`handle-${i % 4}`, '192.0.2.1')
          : db.knex.transaction(async (trx) => {
              await trx('probe_items').insert({ n: i });
              // A rollback must take back only this transaction's own row.
              if (i % 3 === 0) throw new Error('rolled back on purpose');
            }),
      ),
    );
    const unexpected = outcomes.flatMap((outcome) => (outcome.status === 'rejected' && !/on purpose/.test(String(outcome.reason)) ? [String(outcome.reason)] : []));
    assert.deepEqual(unexpected, []);
    const kept = ((await db.knex('probe_items').orderBy('n').select('n')) as { n: number }[]).map((row) => row.n);
    assert.deepEqual(kept, Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 !== 0));
    // Every failure was counted: 20 failures over 2 handles, 10 each, the limit of a handle and IP.
    const counted = (await db.knex('rate_limits').where('key', 'like', 'login_ip:%').select('key', 'points')) as { key: string; points: number }[];
    assert.deepEqual(counted.map((row) => Number(row.points)).sort(), [10, 10]);
    await assert.rejects(limits.checkLogin('handle-0', '192.0.2.1'), RateLimitedError);
    await limits.checkLogin('handle-1', '192.0.2.1');
  });

  it('counts concurrent consumptions of one key exactly, and refuses past the limit', async () => {
    const limits = createRateLimits(db.knex);
    // 10 resends per account and hour.
    const outcomes = await Promise.allSettled(Array.from({ length: 14 }, () => limits.consumeResend(7)));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
    assert.ok(outcomes.filter((outcome) => outcome.status === 'rejected').every((outcome) => outcome.reason instanceof RateLimitedError));
  });
});
