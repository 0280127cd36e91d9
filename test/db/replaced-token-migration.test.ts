// Migration 20261124090000: request_parties.replaced_token_hash, added and removed with plain
// ALTER TABLE (a SQLite table rebuild would drop the triggers of earlier migrations).
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import * as migration from '../../src/db/migrations/20261124090000_add_replaced_token_hash_to_request_parties.js';

describe('db: replaced token hashes (migration 20261124090000)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  const triggers = async (): Promise<number> =>
    db.knex.client.config.client === 'pg'
      ? Number(((await db.knex.raw('SELECT count(*) AS n FROM pg_trigger WHERE NOT tgisinternal')) as { rows: { n: string }[] }).rows[0]?.n)
      : Number(((await db.knex.raw("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger'")) as { n: number }[])[0]?.n);

  it('goes down and up again, leaving every trigger in place', async () => {
    assert.ok(await db.knex.schema.hasColumn('request_parties', 'replaced_token_hash'));
    const before = await triggers();
    assert.ok(before > 0);
    await migration.down(db.knex);
    assert.equal(await db.knex.schema.hasColumn('request_parties', 'replaced_token_hash'), false);
    await migration.up(db.knex);
    assert.ok(await db.knex.schema.hasColumn('request_parties', 'replaced_token_hash'));
    assert.equal(await triggers(), before);
  });
});
