// The web process reads the contacts list on read-only SQLite connections of its own (WAL readers)
// beside its one writing connection. Always on a SQLite file of its own, whatever database the rest
// of the suite runs on: this is the SQLite set-up of the web process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createKnex, createReadKnex, migrateLatest } from '../../src/db/knex.js';
import type { Account } from '../../src/domain/accounts.js';
import { createDomain, type Domain } from '../../src/domain/index.js';
import type { ServiceListQuery } from '../../src/domain/services.js';

const LIST: ServiceListQuery = { q: '', type: undefined, role: undefined, sort: 'name', page: 1 };

describe('db: SQLite read-only connections', () => {
  let dir: string;
  let url: string;
  let writer: Knex;
  let reader: Knex;
  let domain: Domain;
  let owner: Account;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'contact-consent-readers-'));
    url = `sqlite:${path.join(dir, 'readers.sqlite3')}`;
    writer = createKnex({ url, client: 'sqlite3' });
    await migrateLatest(writer);
    reader = createReadKnex({ url, client: 'sqlite3', connections: 2 }, writer);
    domain = createDomain({ knex: writer, reader, handleSuffix: 'ovh', requestTtlMs: 3600_000 });
    owner = await domain.accounts.create({ handle: 'ro0001-ovh', email: 'ro0001@example.test', name: 'Reader Owner', locale: 'en', password: 'correct horse battery staple' });
    for (const name of ['alpha', 'bravo']) await domain.services.create({ name, type: 'domain', admin: owner.handle, tech: owner.handle, billing: owner.handle });
  });
  after(async () => {
    await reader?.destroy();
    await writer?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function listedNames(): Promise<string[]> {
    return (await domain.services.listForAccount(owner.id, LIST)).rows.map((row) => row.name);
  }

  it('is a pool of its own, and refuses every write without changing anything', async () => {
    assert.notEqual(reader, writer);
    await assert.rejects(reader('services').update({ name: 'changed' }), /readonly|read-only/i);
    await assert.rejects(reader.raw('DELETE FROM services'), /readonly|read-only/i);
    assert.deepEqual(await listedNames(), ['alpha', 'bravo']);
  });

  it('lists while a write transaction is open, showing what was committed, then the commit', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    // The one writing connection stays inside this transaction until `release`.
    const transaction = writer.transaction(async (trx) => {
      await trx('services').where({ name: 'alpha' }).update({ name: 'charlie', search_name: 'charlie' });
      written();
      await held;
    });
    await wrote;
    // With the list on the writing connection this would wait for the transaction, which waits for it.
    const during = await Promise.race([
      listedNames(),
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('the list waited for the write transaction')), 5000).unref()),
    ]).catch((error: unknown) => {
      release();
      throw error;
    });
    release();
    await transaction;
    assert.deepEqual(during, ['alpha', 'bravo'], 'an uncommitted change is not shown');
    assert.deepEqual(await listedNames(), ['bravo', 'charlie'], 'a committed change is shown at once');
  });

  it('is the writing pool itself when there are none, for a database only its connection sees, and on PostgreSQL', async () => {
    assert.equal(createReadKnex({ url, client: 'sqlite3', connections: 0 }, writer), writer);
    for (const own of ['sqlite::memory:', 'sqlite:', 'sqlite:file::memory:?cache=shared', 'sqlite:file:x?mode=memory']) {
      assert.equal(createReadKnex({ url: own, client: 'sqlite3', connections: 2 }, writer), writer, own);
    }
    assert.equal(createReadKnex({ url: 'postgres://postgres@127.0.0.1/none', client: 'pg', connections: 2 }, writer), writer);
  });
});
