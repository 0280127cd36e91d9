import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { runCli, snapshot } from './run-cli.js';

describe('cli services:add', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    const at = Date.now();
    await db.knex('accounts').insert(
      ['ab1-ovh', 'cd2-ovh'].map((handle) => ({ handle, email: `${handle}@example.com`, password_hash: 'x', created_at: at, updated_at: at })),
    );
  });
  after(() => db.destroy());

  const add = (overrides: Record<string, string> = {}) => {
    const options = { name: 'exemple-boutique.pt', type: 'domain', admin: 'ab1-ovh', tech: 'cd2-ovh', billing: 'AB1-ovh', ...overrides };
    return runCli(db.url, ['services:add', ...Object.entries(options).flatMap(([key, value]) => [`--${key}`, value])]);
  };

  it('creates a service with its three contacts', async () => {
    const result = await add();
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Service #\d+ exemple-boutique\.pt \(domain\) created: administrator ab1-ovh, technical cd2-ovh, billing ab1-ovh\./);
    const row = (await db.knex('services as s').join('accounts as t', 't.id', 's.tech_id').first('s.name', 's.type', 't.handle')) as { name: string; type: string; handle: string };
    assert.deepEqual(row, { name: 'exemple-boutique.pt', type: 'domain', handle: 'cd2-ovh' });
  });

  it('refuses a bad type, a malformed handle and an unknown handle, writing nothing', async () => {
    const before = await snapshot(db.knex);
    const result = await add({ type: 'mainframe', admin: 'ab-1-ovh', tech: 'zz9-ovh' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^type: The type must be one of: domain, hosting, vps, dedicated, email, cloud, database, cdn\./m);
    assert.match(result.stderr, /^admin: A customer ID is two letters/m);
    assert.match(result.stderr, /^tech: There is no account with the customer ID zz9-ovh\./m);
    assert.deepEqual(await snapshot(db.knex), before);
  });

  it('wants every contact', async () => {
    const result = await runCli(db.url, ['services:add', '--name', 'x.pt', '--type', 'domain', '--admin', 'ab1-ovh', '--tech', 'ab1-ovh']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /The option --billing <handle> is required\./);
  });
});
