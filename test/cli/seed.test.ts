import assert from 'node:assert/strict';
import { DEMO_ACCOUNTS, DEMO_SERVICES, demoAccounts } from '../../src/db/seeds/demo.js';
import { validateNewAccount } from '../../src/domain/accounts.js';
import { verifyPassword } from '../../src/domain/passwords.js';
import { ROLES } from '../../src/domain/roles.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { countRows, runCli, snapshot } from './run-cli.js';

const seed = (url: string, env: Record<string, string> = {}) => runCli(url, [], { script: 'src/cli/seed.ts', env });

describe('demo seed', () => {
  it('describes five valid accounts, one in Portuguese and one overdue, each with a different mix of roles', () => {
    assert.equal(DEMO_ACCOUNTS.length, 5);
    for (const account of DEMO_ACCOUNTS) {
      const checked = validateNewAccount(account, 'ovh');
      assert.ok('value' in checked, `${account.handle}: ${JSON.stringify(checked)}`);
    }
    assert.equal(DEMO_ACCOUNTS.filter((account) => account.locale === 'pt').length, 1);
    assert.equal(DEMO_ACCOUNTS.filter((account) => account.billingOverdue).length, 1);
    assert.equal(new Set(DEMO_ACCOUNTS.map((account) => JSON.stringify(account.roles))).size, 5);
    assert.ok(DEMO_SERVICES.length >= 40);
    assert.ok(new Set(DEMO_SERVICES.map((service) => service.type)).size >= 6);
    assert.ok(DEMO_SERVICES.some((service) => service.admin === service.tech && service.tech === service.billing));
    assert.deepEqual(demoAccounts('acme').map((account) => account.handle.replace(/-acme$/, '-ovh')), DEMO_ACCOUNTS.map((account) => account.handle));
  });

  describe('npm run seed', () => {
    let db: TestDatabase;
    before(async () => {
      db = await createTestDatabase();
    });
    after(() => db.destroy());

    it('fills an empty database and prints the logins', async () => {
      const result = await seed(db.url);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /Demo data created: 5 accounts and 40 services\./);
      for (const account of DEMO_ACCOUNTS) {
        assert.match(result.stdout, new RegExp(`${account.handle}\\s+${account.password}\\s+${account.name}`));
      }
      assert.equal(await countRows(db.knex, 'accounts'), DEMO_ACCOUNTS.length);
      assert.equal(await countRows(db.knex, 'services'), DEMO_SERVICES.length);

      const [first] = DEMO_ACCOUNTS;
      assert.ok(first);
      const row = (await db.knex('accounts').where({ handle: first.handle }).first('password_hash')) as { password_hash: string };
      assert.ok(await verifyPassword(row.password_hash, first.password));
      const overdue = (await db.knex('accounts').whereNotNull('billing_overdue_since').select('handle')) as { handle: string }[];
      assert.deepEqual(overdue.map((account) => account.handle), DEMO_ACCOUNTS.filter((account) => account.billingOverdue).map((account) => account.handle));

      // The exported role counts are what the database holds.
      for (const account of DEMO_ACCOUNTS) {
        const id = ((await db.knex('accounts').where({ handle: account.handle }).first('id')) as { id: number }).id;
        for (const role of ROLES) {
          const held = (await db.knex('services').where(`${role}_id`, id).count({ n: '*' }).first()) as { n: number | string };
          assert.equal(Number(held.n), account.roles[role], `${account.handle} ${role}`);
        }
      }
    });

    it('leaves a database that has accounts alone', async () => {
      const before = await snapshot(db.knex);
      const result = await seed(db.url);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /The database is not empty \(it already has accounts\); nothing was changed\./);
      assert.deepEqual(await snapshot(db.knex), before);
    });
  });

  it('uses the configured handle suffix', async () => {
    const db = await createTestDatabase();
    try {
      const result = await seed(db.url, { HANDLE_SUFFIX: 'acme' });
      assert.equal(result.code, 0, result.stderr);
      const handles = ((await db.knex('accounts').orderBy('handle').select('handle')) as { handle: string }[]).map((row) => row.handle);
      assert.deepEqual(handles, demoAccounts('acme').map((account) => account.handle).sort());
    } finally {
      await db.destroy();
    }
  });
});
