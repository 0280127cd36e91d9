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
    const rows = await listRequests(db.knex);
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
    assert.deepEqual((await listRequests(db.knex, { state: 'PENDING' })).map((row) => row.id), [fixture.ids.pending]);
    assert.deepEqual(await listRequests(db.knex, { state: 'cancelled' }), []);
    assert.equal((await listRequests(db.knex, { state: '' })).length, 3);
  });

  it('refuses a state that does not exist', async () => {
    await assert.rejects(listRequests(db.knex, { state: 'open' }), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.fields.state?.key, 'cli.requests.badState');
      return true;
    });
  });
});
