// Two connections on one SQLite file (the web and the worker): a transaction that reads first and
// writes later must not fail because the other connection wrote in between.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createKnex } from '../../src/db/knex.js';

describe('db: SQLite transactions', () => {
  let dir: string;
  let first: Knex;
  let second: Knex;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'contact-consent-sqlite-'));
    const url = `sqlite:${path.join(dir, 'two.sqlite3')}`;
    first = createKnex({ url, client: 'sqlite3' });
    second = createKnex({ url, client: 'sqlite3' });
    await first.schema.createTable('items', (table) => {
      table.increments('id');
      table.string('name');
    });
    // Both connections open (WAL set up) before the test starts.
    await second.raw('PRAGMA journal_mode');
  });
  afterEach(async () => {
    await first.destroy();
    await second.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a read-then-write transaction finish while another connection writes meanwhile', async () => {
    let otherWrite: Promise<unknown> | undefined;
    await first.transaction(async (trx) => {
      assert.deepEqual(await trx('items').select('id'), []);
      // The other connection writes while this transaction is between its read and its write.
      // (then() starts it: a query builder does nothing until asked for its result.)
      otherWrite = second('items')
        .insert({ name: 'from the other connection' })
        .then(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await trx('items').insert({ name: 'from the transaction' });
    });
    await otherWrite;
    const names = ((await first('items').orderBy('id').select('name')) as { name: string }[]).map((row) => row.name);
    assert.deepEqual(names.sort(), ['from the other connection', 'from the transaction']);
  });

  it('still nests transactions as savepoints', async () => {
    await first.transaction(async (trx) => {
      await trx('items').insert({ name: 'outer' });
      await trx
        .transaction(async (inner) => {
          await inner('items').insert({ name: 'inner' });
          throw new Error('roll the inner one back');
        })
        .catch(() => undefined);
    });
    const names = ((await first('items').orderBy('id').select('name')) as { name: string }[]).map((row) => row.name);
    assert.deepEqual(names, ['outer']);
  });
});
