// The web process's connection pool (webPoolMax): on SQLite several connections on one file, so
// that one page's reads do not wait behind another's, and writes that still take turns.
import assert from 'node:assert/strict';
import { createKnex, webPoolMax } from '../../src/db/knex.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('db: the web process’s connection pool', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase({ web: true });
    await db.knex.schema.createTable('pool_items', (table) => {
      table.increments('id');
      table.string('name');
    });
  });
  afterEach(() => db.destroy());

  it('reads beside a transaction that holds a connection and the write lock, and sees only what is committed', async () => {
    await db.knex('pool_items').insert({ name: 'committed' });
    await db.knex.transaction(async (trx) => {
      await trx('pool_items').insert({ name: 'not yet committed' });
      // With one connection this read would wait for the transaction, which waits for it.
      const names = (await db.knex('pool_items').select('name')) as { name: string }[];
      assert.deepEqual(names, [{ name: 'committed' }]);
    });
    assert.equal(Number((await db.knex('pool_items').count({ n: '*' }))[0]?.n), 2);
  });

  it('lets write transactions on different connections take turns instead of failing', async () => {
    const writers = Array.from({ length: 6 }, (_, i) =>
      db.knex.transaction(async (trx) => {
        const before = Number((await trx('pool_items').count({ n: '*' }))[0]?.n);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await trx('pool_items').insert({ name: `writer ${i} saw ${before}` });
      }),
    );
    await Promise.all(writers);
    const names = ((await db.knex('pool_items').orderBy('id').select('name')) as { name: string }[]).map((row) => row.name);
    assert.equal(names.length, 6, 'no write lost');
    // On SQLite each transaction takes the write lock as it begins (BEGIN IMMEDIATE) and the
    // others wait their turn (busy timeout): each writer saw every earlier one. (PostgreSQL's
    // read-committed transactions run side by side and may all have seen none.)
    if (db.client === 'sqlite3') {
      assert.deepEqual(
        names.map((name) => Number(/saw (\d+)/.exec(name)?.[1])),
        [0, 1, 2, 3, 4, 5],
      );
    }
  });

  it('opens several SQLite connections for the web process, and one for an in-memory database', async () => {
    assert.equal(webPoolMax('sqlite3'), 3);
    const memory = createKnex({ url: 'sqlite::memory:', client: 'sqlite3', poolMax: webPoolMax('sqlite3') });
    try {
      await memory.schema.createTable('t', (table) => table.integer('n'));
      await memory('t').insert({ n: 1 });
      // Every read sees the one database the table was created in, even while others hold a
      // connection: they queue for it instead of opening a new, empty database.
      const reads = await Promise.all(
        Array.from({ length: 5 }, () =>
          memory.transaction(async (trx) => {
            const rows = await trx('t').count({ n: '*' });
            await new Promise((resolve) => setTimeout(resolve, 10));
            return rows;
          }),
        ),
      );
      assert.deepEqual(reads.map((rows) => Number(rows[0]?.n)), [1, 1, 1, 1, 1]);
    } finally {
      await memory.destroy();
    }
  });
});
