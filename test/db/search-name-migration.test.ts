// Migrations 20261124070000 and 20261124070100: services get the folded name searches compare,
// filled in for the services already there, and the contacts list's indexes cover it.
import assert from 'node:assert/strict';
import { foldForSearch } from '../../src/domain/search-text.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const NAMES = ['plain-ascii.example', 'MIXED-Case.Example', 'Música-Loja.pt', 'e\u0301cole.fr', 'ΑΘΗΝΑ.gr', 'ΟΔΥΣΣΕΑΣ.gr', 'Straße.de', 'tab\tless~ok'];

describe('db: services.search_name migrations', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  async function latestMigration(): Promise<string> {
    const row = (await db.knex('knex_migrations').orderBy('id', 'desc').first('name')) as { name: string };
    return row.name;
  }

  it('rolls back, fills the names of existing services going up again, and refuses a service without one', async () => {
    const { knex } = db;
    assert.match(await latestMigration(), /^2026/);
    // Down to the schema before the column, the way an older installation has it.
    while ((await latestMigration()) >= '20261124070000') await knex.migrate.down();
    const columns = await knex('services').columnInfo();
    assert.ok(!('search_name' in columns), 'down dropped the column');

    const at = Date.now();
    const [account] = (await knex('accounts')
      .insert({ handle: 'mg123456-ovh', email: 'mg@example.test', name: 'Migration', locale: 'en', password_hash: 'x', created_at: at, updated_at: at })
      .returning(['id'])) as { id: number }[];
    const accountId = (account as { id: number }).id;
    await knex('services').insert(
      NAMES.map((name) => ({ name, type: 'domain', admin_id: accountId, tech_id: accountId, billing_id: accountId, created_at: at, updated_at: at })),
    );
    const counts = async () => knex('account_service_counts').where({ account_id: accountId }).first('services', 'admin');

    await knex.migrate.latest();
    const rows = (await knex('services').orderBy('id').select('name', 'search_name')) as { name: string; search_name: string }[];
    assert.deepEqual(
      rows.map((row) => row.search_name),
      NAMES.map((name) => foldForSearch(name)),
    );
    assert.equal(rows[2]?.search_name, 'musica-loja.pt');
    if (db.client === 'pg') {
      // Byte order whatever the database's locale (this machine's is C.UTF-8, a production one
      // may well be en_US.UTF-8, which would sort "my-shop" after "mya").
      const column = await knex.raw(`SELECT collation_name FROM information_schema.columns WHERE table_name = 'services' AND column_name = 'search_name'`);
      assert.equal((column as { rows: { collation_name: string }[] }).rows[0]?.collation_name, 'C');
    }
    assert.deepEqual({ ...(await counts()) }, { services: NAMES.length, admin: NAMES.length }, 'the counts triggers survived');

    // A writer that forgets the column is stopped, on either database.
    await assert.rejects(
      knex('services').insert({ name: 'forgotten.example', type: 'domain', admin_id: accountId, tech_id: accountId, billing_id: accountId, created_at: at, updated_at: at }),
      /search_name/,
    );
    await assert.rejects(knex('services').where({ name: 'plain-ascii.example' }).update({ search_name: null }), /search_name/);
    assert.equal(Number(((await knex('services').count({ n: '*' }).first()) as { n: number | string }).n), NAMES.length, 'nothing was written');
  });
});
