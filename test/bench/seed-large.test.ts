// The benchmark's seed writes its services through the same triggers as the app (counts and list
// versions); on PostgreSQL it commits them in several transactions with a VACUUM in between. Run
// on both databases (TEST_DATABASE_URL), at a tiny size and with small transactions, so that
// the PostgreSQL path really takes several.
import assert from 'node:assert/strict';
import { seedLarge } from '../../bench/seed-large.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { assertCountsExact } from '../helpers/service-counts.js';

describe('bench: the large seed', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  it('seeds the sizes asked for, with the counts and list versions the triggers keep (on PostgreSQL across several transactions)', async () => {
    const info = await seedLarge(db.knex, { accounts: 40, services: 700, bigServices: 70 }, { servicesPerTransaction: 250 });
    assert.equal(info.services, 700);
    const services = Number(((await db.knex('services').count({ n: '*' }).first()) as { n: number | string }).n);
    assert.equal(services, 700);
    const counts = await assertCountsExact(db.knex, 'after the seed');
    assert.equal(counts.length, 40);
    // Every `step`-th service is the big account's, and only those (the others draw from the rest).
    assert.equal(counts.find((row) => row.account_id === info.bigAccountId)?.services, 70);
    const versions = (await db.knex('account_service_counts').where('services', '>', 0).select('list_version')) as { list_version: number | string }[];
    assert.ok(versions.length > 0 && versions.every((row) => Number(row.list_version) > 0), 'every account with services has a list version');
    const pending = Number(((await db.knex('change_requests').where('state', 'pending').count({ n: '*' }).first()) as { n: number | string }).n);
    assert.equal(pending, info.pendingRequests);
  });
});
