import assert from 'node:assert/strict';
import { ValidationError } from '../../src/domain/errors.js';
import { listRequests } from '../../src/domain/request-reports.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { insertRequests, T0, type RequestFixture } from '../cli/request-fixtures.js';

describe('request reports', () => {
  let db: TestDatabase;
  let fixture: RequestFixture;
  before(async () => {
    db = await createTestDatabase();
    fixture = await insertRequests(db.knex);
  });
  after(() => db.destroy());

  it('joins each request with its service and the handles involved', async () => {
    const { rows, total } = await listRequests(db.knex);
    assert.equal(total, 3);
    assert.deepEqual(rows.map((row) => row.id), [fixture.ids.done, fixture.ids.failed, fixture.ids.pending]);
    const done = rows[0];
    assert.ok(done);
    assert.deepEqual(
      { ...done, serviceId: 0 },
      {
        id: fixture.ids.done,
        state: 'done',
        serviceId: 0,
        serviceName: 'exemple-boutique.pt',
        serviceType: 'domain',
        roles: ['tech', 'billing'],
        fromHandle: 'ab1-ovh',
        toHandle: 'ef3-ovh',
        requesterHandle: 'ab1-ovh',
        failureReason: null,
        createdAt: T0,
        expiresAt: T0 + 7 * 24 * 3600_000,
        decidedAt: T0 + 24 * 3600_000,
      },
    );
    assert.equal(rows[1]?.failureReason, 'billingOverdue');
  });

  it('filters by state, whatever its case', async () => {
    assert.deepEqual((await listRequests(db.knex, { state: 'PENDING' })).rows.map((row) => row.id), [fixture.ids.pending]);
    assert.deepEqual(await listRequests(db.knex, { state: 'cancelled' }), { rows: [], total: 0 });
    assert.equal((await listRequests(db.knex, { state: '' })).rows.length, 3);
  });

  it('lists only the newest requests up to the limit, still oldest first, with the number matching', async () => {
    assert.deepEqual(await listRequests(db.knex, { limit: 2 }).then(({ rows, total }) => ({ ids: rows.map((row) => row.id), total })), {
      ids: [fixture.ids.failed, fixture.ids.pending],
      total: 3,
    });
    const pending = await listRequests(db.knex, { state: 'pending', limit: 1 });
    assert.deepEqual({ ids: pending.rows.map((row) => row.id), total: pending.total }, { ids: [fixture.ids.pending], total: 1 });
  });

  it('refuses a limit that is not a whole number from 1 to 1000, with the state checked too', async () => {
    for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
      await assert.rejects(listRequests(db.knex, { limit }), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(error.fields, { limit: { key: 'cli.requests.badLimit', params: { max: 1000 } } });
        return true;
      });
    }
    await assert.rejects(listRequests(db.knex, { limit: 0, state: 'open' }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(Object.keys(error.fields).sort(), ['limit', 'state']);
      return true;
    });
  });

  it('refuses a state that does not exist', async () => {
    await assert.rejects(listRequests(db.knex, { state: 'open' }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.fields.state?.key, 'cli.requests.badState');
      return true;
    });
  });
});
