import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { insertRequests, type RequestFixture } from './request-fixtures.js';
import { runCli } from './run-cli.js';

describe('cli requests:list', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  it('says so when there are no requests', async () => {
    const result = await runCli(db.url, ['requests:list']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'There are no change requests.');
  });

  describe('with requests', () => {
    let fixture: RequestFixture;
    before(async () => {
      fixture = await insertRequests(db.knex);
    });

    it('prints every request as a table, oldest first', async () => {
      const result = await runCli(db.url, ['requests:list']);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^ID\s+State\s+Service\s+Roles\s+From → to\s+Requested by\s+Created \(UTC\)\s+Expires \(UTC\)$/);
      assert.match(lines[1] ?? '', /^-+ +-+/);
      assert.match(lines[2] ?? '', new RegExp(`^${fixture.ids.done}\\s+done\\s+exemple-boutique\\.pt\\s+tech,billing\\s+ab1-ovh → ef3-ovh\\s+ab1-ovh\\s+2027-01-04 09:30\\s+2027-01-11 09:30$`));
      assert.match(lines[3] ?? '', new RegExp(`^${fixture.ids.failed}\\s+failed \\(billingOverdue\\)\\s+exemple-boutique\\.pt\\s+billing\\s+ab1-ovh → cd2-ovh`));
      assert.match(lines[4] ?? '', new RegExp(`^${fixture.ids.pending}\\s+pending\\s+exemple-boutique\\.pt\\s+tech\\s+cd2-ovh → ef3-ovh\\s+ab1-ovh\\s+2027-01-06 09:30\\s+2027-01-13 09:30$`));
      assert.equal(lines[5], 'Requests: 3.');
    });

    it('filters by state', async () => {
      const pending = await runCli(db.url, ['requests:list', '--state', 'pending']);
      assert.equal(pending.code, 0, pending.stderr);
      assert.match(pending.stdout, /cd2-ovh → ef3-ovh/);
      assert.doesNotMatch(pending.stdout, /ab1-ovh → /);
      assert.match(pending.stdout, /Requests: 1\./);
      const expired = await runCli(db.url, ['--lang', 'pt', 'requests:list', '--state', 'expired']);
      assert.equal(expired.code, 0, expired.stderr);
      assert.equal(expired.stdout.trim(), 'Não há pedidos de alteração no estado expired.');
    });

    it('shows only the newest requests with --limit, and says how many there are', async () => {
      const result = await runCli(db.url, ['requests:list', '--limit', '2']);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 6);
      assert.match(lines[2] ?? '', new RegExp(`^${fixture.ids.failed}\\s+failed`));
      assert.match(lines[3] ?? '', new RegExp(`^${fixture.ids.pending}\\s+pending`));
      assert.equal(lines[4], 'Requests shown: 2, the newest of 3.');
      assert.equal(lines[5], '--limit shows up to 1000.');
      const pt = await runCli(db.url, ['--lang', 'pt', 'requests:list', '--limit', '1']);
      assert.match(pt.stdout, /^Pedidos mostrados: 1, os mais recentes de 3\.\n--limit mostra até 1000\.$/m);
    });

    it('refuses a limit that is not a whole number from 1 to 1000', async () => {
      for (const limit of ['0', '1e1', '0x10', '1001', 'ten']) {
        const result = await runCli(db.url, ['requests:list', '--limit', limit]);
        assert.equal(result.code, 1, limit);
        assert.match(result.stderr, /^limit: The limit must be a whole number from 1 to 1000\./m, limit);
      }
    });

    it('refuses an unknown state', async () => {
      const result = await runCli(db.url, ['requests:list', '--state', 'open']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^state: The state must be one of: pending, done, refused, expired, cancelled, failed\./m);
    });
  });
});
