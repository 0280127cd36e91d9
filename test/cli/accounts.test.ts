import assert from 'node:assert/strict';
import path from 'node:path';
import { createKnex } from '../../src/db/knex.js';
import { verifyPassword } from '../../src/domain/passwords.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { countRows, runCli, scratchDir, snapshot } from './run-cli.js';

describe('cli accounts:add, accounts:password, accounts:billing', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  const hashOf = async (handle: string) =>
    ((await db.knex('accounts').where({ handle }).first('password_hash')) as { password_hash: string }).password_hash;

  it('creates an account with a hashed password', async () => {
    const result = await runCli(db.url, [
      'accounts:add', '--handle', 'AB12345-ovh', '--email', 'ana@example.com', '--password', 'a long demo password', '--name', 'Ana Costa', '--locale', 'pt',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Account ab12345-ovh created/);
    const row = (await db.knex('accounts').where({ handle: 'ab12345-ovh' }).first()) as { email: string; name: string; locale: string; password_hash: string };
    assert.equal(row.email, 'ana@example.com');
    assert.equal(row.name, 'Ana Costa');
    assert.equal(row.locale, 'pt');
    assert.ok(await verifyPassword(row.password_hash, 'a long demo password'));
  });

  it('lists every bad field, exits 1 and writes nothing', async () => {
    const before = await snapshot(db.knex);
    const result = await runCli(db.url, ['accounts:add', '--handle', 'abc-ovh', '--email', 'not-an-address', '--password', 'short', '--locale', 'fr']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^handle: A customer ID is two letters, 1 to 8 digits, a dash and "ovh"/m);
    assert.match(result.stderr, /^email: Enter a valid e-mail address/m);
    assert.match(result.stderr, /^password: The password must be at least 12 characters long\./m);
    assert.match(result.stderr, /^locale: The language must be "pt" or "en"\./m);
    assert.deepEqual(await snapshot(db.knex), before);
  });

  it('refuses a handle already in use and a common password', async () => {
    const before = await snapshot(db.knex);
    const duplicate = await runCli(db.url, ['accounts:add', '--handle', 'ab12345-ovh', '--email', 'x@example.com', '--password', 'another long password']);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /handle: The customer ID ab12345-ovh is already in use\./);
    const common = await runCli(db.url, ['accounts:add', '--handle', 'cd1-ovh', '--email', 'x@example.com', '--password', 'passwordpassword']);
    assert.equal(common.code, 1);
    assert.match(common.stderr, /password: This password is one of the most common ones/);
    assert.deepEqual(await snapshot(db.knex), before);
  });

  it('exits 2 with a translated message on bad usage', async () => {
    const missing = await runCli(db.url, ['accounts:add', '--handle', 'cd1-ovh', '--password', 'a long demo password']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /The option --email <email> is required\./);
    assert.match(missing.stderr, /--help/);
    const unknown = await runCli(db.url, ['accounts:remove']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command accounts:remove\./);
  });

  it('sets a password read from standard input and records it in the audit log', async () => {
    const result = await runCli(db.url, ['accounts:password', '--handle', 'ab12345-ovh', '--password', '-'], { stdin: 'a brand new password\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Password of ab12345-ovh set; 0 sessions of this account logged out\./);
    assert.ok(await verifyPassword(await hashOf('ab12345-ovh'), 'a brand new password'));
    const audits = (await db.knex('audit_log').where({ action: 'operator.password' }).select('account_id')) as { account_id: number }[];
    assert.equal(audits.length, 1);
  });

  it('logs the account out everywhere when the operator sets its password', async () => {
    const added = await runCli(db.url, ['accounts:add', '--handle', 'cd67890-ovh', '--email', 'carla@example.com', '--password', 'a long demo password']);
    assert.equal(added.code, 0, added.stderr);
    const [mine, other] = (await db.knex('accounts').whereIn('handle', ['ab12345-ovh', 'cd67890-ovh']).orderBy('handle').select('id')) as { id: number }[];
    assert.ok(mine && other, 'both accounts exist');
    const expired = new Date(Date.now() + 3600_000).toISOString();
    const session = (sid: string, accountId: number) => ({ sid, sess: JSON.stringify({ cookie: {}, accountId, loggedInAt: Date.now() }), expired });
    await db.knex('sessions').insert([session('s-mine-1', mine.id), session('s-mine-2', mine.id), session('s-other', other.id), { ...session('s-anonymous', 0), sess: JSON.stringify({ cookie: {} }) }]);
    const result = await runCli(db.url, ['accounts:password', '--handle', 'ab12345-ovh', '--password', '-'], { stdin: 'another brand new password\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Password of ab12345-ovh set; 2 sessions of this account logged out\./);
    const left = ((await db.knex('sessions').orderBy('sid').select('sid')) as { sid: string }[]).map((row) => row.sid);
    assert.deepEqual(left, ['s-anonymous', 's-other']);
  });

  it('enforces the password policy and knows the handle before changing a password', async () => {
    const hash = await hashOf('ab12345-ovh');
    const weak = await runCli(db.url, ['accounts:password', '--handle', 'ab12345-ovh', '--password', 'tooshort']);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /password: The password must be at least 12 characters long\./);
    const unknown = await runCli(db.url, ['accounts:password', '--handle', 'zz999-ovh', '--password', 'a long enough password']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /handle: There is no account with the customer ID zz999-ovh\./);
    assert.equal(await hashOf('ab12345-ovh'), hash);
  });

  it('marks payments overdue and up to date', async () => {
    const overdue = await runCli(db.url, ['accounts:billing', '--handle', 'ab12345-ovh', '--overdue']);
    assert.equal(overdue.code, 0, overdue.stderr);
    assert.match(overdue.stdout, /ab12345-ovh: payments overdue since \d{4}-\d\d-\d\d \d\d:\d\d UTC\./);
    const since = (await db.knex('accounts').where({ handle: 'ab12345-ovh' }).first('billing_overdue_since')) as { billing_overdue_since: number | null };
    assert.ok(since.billing_overdue_since !== null);

    const ok = await runCli(db.url, ['--lang', 'pt', 'accounts:billing', '--handle', 'ab12345-ovh', '--ok']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ab12345-ovh: pagamentos em dia\./);
    const after = (await db.knex('accounts').where({ handle: 'ab12345-ovh' }).first('billing_overdue_since')) as { billing_overdue_since: number | null };
    assert.equal(after.billing_overdue_since, null);
  });

  it('wants exactly one of --overdue and --ok, and a known handle', async () => {
    for (const flags of [[], ['--overdue', '--ok']]) {
      const result = await runCli(db.url, ['accounts:billing', '--handle', 'ab12345-ovh', ...flags]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /Give exactly one of --overdue or --ok\./);
    }
    const unknown = await runCli(db.url, ['accounts:billing', '--handle', 'ab1234567890-ovh', '--overdue']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /handle: A customer ID is two letters/);
  });

  it('migrates a fresh database before running the command', async () => {
    const url = `sqlite:${path.join(scratchDir(), 'fresh.sqlite3')}`;
    const result = await runCli(url, ['accounts:add', '--handle', 'ef1-ovh', '--email', 'e@example.com', '--password', 'a long demo password']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Applied \d+ pending database migration\(s\)\./);
    const knex = createKnex({ url, client: 'sqlite3' });
    try {
      assert.equal(await countRows(knex, 'accounts'), 1);
    } finally {
      await knex.destroy();
    }
  });
});
