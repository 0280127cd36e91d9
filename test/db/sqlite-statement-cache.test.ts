// Statements kept prepared per SQLite connection (src/db/knex.ts): reused, bounded, dropped after
// an error, never holding a stale snapshot, and finalized before the connection closes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createKnex, STATEMENT_CACHE_SIZE } from '../../src/db/knex.js';

interface RawConnection {
  prepare: (...args: unknown[]) => unknown;
  statementCache?: Map<string, unknown>;
}

describe('db: SQLite prepared statements kept per connection', () => {
  let dir: string;
  let url: string;
  let knex: Knex;
  let connection: RawConnection;
  let prepared: string[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'contact-consent-statements-'));
    url = `sqlite:${path.join(dir, 'cache.sqlite3')}`;
    knex = createKnex({ url, client: 'sqlite3' });
    await knex.schema.createTable('items', (table) => {
      table.increments('id');
      table.string('name').notNullable().unique();
    });
    // The pool holds one connection on SQLite: watch what it prepares.
    connection = (await knex.client.acquireConnection()) as RawConnection;
    await knex.client.releaseConnection(connection);
    const prepare = connection.prepare.bind(connection);
    prepared = [];
    connection.prepare = (...args: unknown[]) => {
      prepared.push(String(args[0]));
      return prepare(...args);
    };
  });
  afterEach(async () => {
    await knex.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prepares a read once and runs it again with other bindings', async () => {
    await knex('items').insert([{ name: 'a' }, { name: 'b' }]);
    assert.deepEqual(await knex('items').where('name', 'a').select('name'), [{ name: 'a' }]);
    assert.deepEqual(await knex('items').where('name', 'b').select('name'), [{ name: 'b' }]);
    assert.deepEqual(await knex('items').where('name', 'c').select('name'), []);
    assert.equal(prepared.filter((sql) => sql.startsWith('select')).length, 1);
  });

  it('keeps the reads of transactions too, and they still commit and roll back', async () => {
    for (const name of ['one', 'two']) {
      await knex.transaction(async (trx) => {
        await trx('items').insert({ name });
        await trx('items').where('name', name).first('id');
      });
    }
    await knex
      .transaction(async (trx) => {
        await trx('items').insert({ name: 'three' });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    assert.deepEqual((await knex('items').orderBy('id').select('name')).map((row: { name: string }) => row.name), ['one', 'two']);
    assert.equal(prepared.filter((sql) => sql === 'BEGIN IMMEDIATE;').length, 1);
  });

  it('holds no snapshot once a kept read has run: other connections checkpoint, and every read sees their writes', async () => {
    const other = createKnex({ url, client: 'sqlite3' });
    try {
      const count = async () => Number(((await knex('items').count({ n: '*' }).first()) as { n: number }).n);
      assert.equal(await count(), 0);
      await other('items').insert({ name: 'from the other connection' });
      // A reader holding a snapshot would keep the checkpoint from going through (busy = 1).
      assert.deepEqual(await other.raw('PRAGMA wal_checkpoint(TRUNCATE)'), [{ busy: 0, log: 0, checkpointed: 0 }]);
      // Another kept statement than the one that ran first sees the write, and so does that one.
      assert.deepEqual(await knex('items').select('name'), [{ name: 'from the other connection' }]);
      assert.equal(await count(), 1);
    } finally {
      await other.destroy();
    }
  });

  it('reports a statement that does not prepare with SQLite’s message, and keeps nothing', async () => {
    await assert.rejects(knex.raw('SELECT nope FROM items'), /no such column: nope/);
    await assert.rejects(knex.raw('SELECT nope FROM items'), /no such column: nope/);
    assert.equal(connection.statementCache?.has('SELECT nope FROM items'), false);
  });

  it('drops a statement that failed while running, and runs it fresh next time', async () => {
    await knex('items').insert({ name: 'taken' });
    const insert = () => knex('items').insert({ name: 'taken' }, ['id']);
    await assert.rejects(insert(), /UNIQUE constraint failed/);
    const sql = insert().toSQL().toNative().sql;
    assert.equal(connection.statementCache?.has(sql), false);
    await knex('items').where('name', 'taken').del();
    assert.equal((await insert()).length, 1);
  });

  it('keeps at most STATEMENT_CACHE_SIZE statements, dropping the least recently used', async () => {
    await knex.raw('SELECT 0 AS n');
    for (let i = 1; i <= STATEMENT_CACHE_SIZE + 10; i++) {
      await knex.raw(`SELECT ${i} AS n`);
      if (i % 10 === 0) await knex.raw('SELECT 0 AS n');
    }
    assert.equal(connection.statementCache?.size, STATEMENT_CACHE_SIZE);
    assert.equal(connection.statementCache?.has('SELECT 0 AS n'), true);
    assert.equal(connection.statementCache?.has('SELECT 1 AS n'), false);
  });

  it('runs one statement several times at once inside a transaction, and keeps one copy', async () => {
    await knex('items').insert([{ name: 'a' }, { name: 'b' }]);
    const names = await knex.transaction((trx) => Promise.all(['a', 'b', 'a', 'b', 'x'].map((name) => trx('items').where('name', name).first('name'))));
    assert.deepEqual(names, [{ name: 'a' }, { name: 'b' }, { name: 'a' }, { name: 'b' }, undefined]);
    assert.equal([...(connection.statementCache?.keys() ?? [])].filter((sql) => sql.startsWith('select')).length, 1);
  });

  it('survives statements dropped from the cache while they still run', async () => {
    const count = STATEMENT_CACHE_SIZE * 2;
    const results = await knex.transaction((trx) => Promise.all(Array.from({ length: count }, (_, i) => trx.raw(`SELECT ${i} AS n`))));
    assert.deepEqual(
      results.map((rows: { n: number }[]) => rows[0]?.n),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.equal(connection.statementCache?.size, STATEMENT_CACHE_SIZE);
    assert.deepEqual(await knex.raw('SELECT 0 AS n'), [{ n: 0 }]);
  });

  it('keeps no savepoint statements, whose names are new each time', async () => {
    for (const name of ['p', 'q']) {
      await knex.transaction(async (trx) => {
        await trx.transaction(async (inner) => {
          await inner('items').insert({ name });
        });
      });
    }
    const kept = [...(connection.statementCache?.keys() ?? [])];
    assert.deepEqual(kept.filter((sql) => /SAVEPOINT/i.test(sql)), []);
    assert.equal(prepared.filter((sql) => /SAVEPOINT/i.test(sql)).length, 0);
    assert.deepEqual((await knex('items').orderBy('id').select('name')).map((row: { name: string }) => row.name), ['p', 'q']);
  });

  it('finalizes its statements so that the connection really closes', async () => {
    const own = createKnex({ url, client: 'sqlite3' });
    await own('items').select('id');
    await own.transaction((trx) => Promise.all([trx('items').select('id'), trx.raw('SELECT 1 AS n')]));
    const raw = (await own.client.acquireConnection()) as RawConnection & { open: boolean };
    await own.client.releaseConnection(raw);
    assert.ok((raw.statementCache?.size ?? 0) >= 2);
    const closed = new Promise<void>((resolve) => (raw as unknown as { once(event: string, listener: () => void): void }).once('close', resolve));
    await own.destroy();
    // A close refused for unfinalized statements is only reported to knex's pool, which drops it.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
    assert.equal(raw.open, false, 'the connection is still open');
  });

  it('answers writes without RETURNING with their row id and count of changes, as before', async () => {
    const [id] = await knex('items').insert({ name: 'x' });
    assert.equal(typeof id, 'number');
    assert.equal(await knex('items').where('id', id).update({ name: 'y' }), 1);
    assert.equal(await knex('items').where('id', id).del(), 1);
  });
});
