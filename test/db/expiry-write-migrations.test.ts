// Migrations 20261126010000 and 20261126010100, which make the expiry sweep's writes cheaper on
// PostgreSQL: request_parties' pages keep room for updated rows, and the outbox no longer
// references change_requests. Both change nothing on SQLite. Each goes down and up again on both
// databases, keeping the rows and indexes.
import assert from 'node:assert/strict';
import { rowsOf } from '../../src/domain/sql-json.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { insertMail } from '../mail/mail-helpers.js';
import * as fillfactor from '../../src/db/migrations/20261126010000_request_parties_fillfactor.js';
import * as outboxReference from '../../src/db/migrations/20261126010100_drop_outbox_request_foreign_key.js';

describe('db: cheaper expiry writes (migrations 20261126010000 and 20261126010100)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  const postgres = (): boolean => db.knex.client.config.client === 'pg';

  const rows = async <T>(sql: string): Promise<T[]> => rowsOf<T>(await db.knex.raw(sql));

  /** The tables the outbox references. */
  const outboxReferences = async (): Promise<string[]> =>
    postgres()
      ? (
          await rows<{ target: string }>(
            "SELECT confrelid::regclass::text AS target FROM pg_constraint WHERE conrelid = 'outbox'::regclass AND contype = 'f'",
          )
        ).map((row) => row.target)
      : (await rows<{ table: string }>('PRAGMA foreign_key_list(outbox)')).map((row) => row.table);

  const outboxIndexes = async (): Promise<string[]> =>
    (
      postgres()
        ? await rows<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'outbox' ORDER BY indexname")
        : await rows<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL ORDER BY name")
    ).map((row) => row.name);

  /** A request id no request has. */
  const MISSING_REQUEST = 987_654_321;

  it('request_parties: pages filled to 70 % on PostgreSQL, and back to the default; nothing on SQLite', async () => {
    const options = async (): Promise<string[] | null> =>
      postgres() ? ((await rows<{ options: string[] | null }>("SELECT reloptions AS options FROM pg_class WHERE relname = 'request_parties'"))[0]?.options ?? null) : null;
    const schema = async (): Promise<string | undefined> =>
      postgres() ? undefined : (await rows<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'request_parties'"))[0]?.sql;
    const before = { options: await options(), schema: await schema() };
    if (postgres()) assert.deepEqual(before.options, ['fillfactor=70']);
    await fillfactor.down(db.knex);
    assert.equal(await options(), null);
    await fillfactor.up(db.knex);
    assert.deepEqual({ options: await options(), schema: await schema() }, before);
  });

  it('outbox: references no request on PostgreSQL (down puts the reference back, up takes it away); SQLite keeps it', async () => {
    const reference = postgres() ? [] : ['change_requests'];
    assert.deepEqual(await outboxReferences(), reference);
    const indexes = await outboxIndexes();
    assert.ok(indexes.includes('outbox_due'), `outbox_due among ${indexes.join(', ')}`);
    const [kept] = await insertMail(db.knex, [{ kind: 'request.done', address: 'kept@example.test' }]);
    const keptRow = await db.knex('outbox').where('id', kept).first();

    // In a transaction, as knex runs migrations.
    await db.knex.transaction((trx) => outboxReference.down(trx));
    assert.deepEqual(await outboxReferences(), ['change_requests']);
    // A mail about a request that does not exist is refused only while the reference exists.
    await assert.rejects(insertMail(db.knex, [{ kind: 'request.done', requestId: MISSING_REQUEST }]), /foreign key/i);
    await db.knex.transaction((trx) => outboxReference.up(trx));
    assert.deepEqual(await outboxReferences(), reference);
    if (postgres()) {
      const [unchecked] = await insertMail(db.knex, [{ kind: 'request.done', requestId: MISSING_REQUEST }]);
      assert.equal(Number((await db.knex('outbox').where('id', unchecked).first('request_id')).request_id), MISSING_REQUEST);
    } else {
      await assert.rejects(insertMail(db.knex, [{ kind: 'request.done', requestId: MISSING_REQUEST }]), /foreign key/i);
    }

    assert.deepEqual(await outboxIndexes(), indexes);
    assert.deepEqual(await db.knex('outbox').where('id', kept).first(), keptRow);
  });
});
