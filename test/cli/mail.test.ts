import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { runCli } from './run-cli.js';

describe('cli mail:list and mail:retry', () => {
  let db: TestDatabase;
  let deadId: number;
  before(async () => {
    db = await createTestDatabase();
    const now = Date.now();
    const row = (status: string, address: string) => ({
      kind: 'request.inform',
      recipient_address: address,
      recipient_name: '',
      locale: 'en',
      payload: JSON.stringify({ requestId: 1, token: 'secret-token-never-printed' }),
      status,
      attempts: status === 'dead' ? 8 : 0,
      next_attempt_at: now,
      last_error: status === 'dead' ? '550 mailbox unavailable' : null,
      created_at: now,
    });
    await db.knex('outbox').insert([row('pending', 'pending@example.test'), row('sent', 'sent@example.test')]);
    const [dead] = await db.knex('outbox').insert(row('dead', 'dead@example.test')).returning(['id']);
    deadId = (dead as { id: number }).id;
  });
  after(() => db.destroy());

  it('lists the outbox, and only dead mail with --dead, never the payload', async () => {
    const all = await runCli(db.url, ['mail:list']);
    assert.equal(all.code, 0, all.stderr);
    for (const address of ['pending@', 'sent@', 'dead@']) assert.ok(all.stdout.includes(address), all.stdout);
    assert.ok(!all.stdout.includes('secret-token'));
    const dead = await runCli(db.url, ['mail:list', '--dead']);
    assert.equal(dead.code, 0, dead.stderr);
    assert.ok(dead.stdout.includes('dead@example.test'));
    assert.ok(!dead.stdout.includes('pending@example.test'));
    assert.match(dead.stdout, /550 mailbox unavailable/);
    // Only plain digits: Number() alone would take these.
    for (const limit of ['0x10', '1e1', '0', '1001', ' 5']) {
      const bad = await runCli(db.url, ['mail:list', '--limit', limit]);
      assert.equal(bad.code, 1, limit);
      assert.match(bad.stderr, /The limit must be a whole number from 1 to 1000\./, limit);
    }
    assert.equal((await runCli(db.url, ['mail:list', '--limit', '2'])).code, 0);
  });

  it('retries one dead mail by id, and refuses bad usage and unknown ids', async () => {
    const usage = await runCli(db.url, ['mail:retry']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Give either a mail id or --all-dead/);
    for (const id of ['abc', '2147483648', '9999999999']) {
      const bad = await runCli(db.url, ['mail:retry', id]);
      assert.equal(bad.code, 2, id);
      assert.match(bad.stderr, new RegExp(`"?${id}"? is not`), id);
    }
    const unknown = await runCli(db.url, ['mail:retry', '999999']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no mail with id 999999/);
    const ok = await runCli(db.url, ['mail:retry', String(deadId)]);
    assert.equal(ok.code, 0, ok.stderr);
    const row = await db.knex('outbox').where({ id: deadId }).first('status', 'attempts');
    assert.deepEqual(row, { status: 'pending', attempts: 0 });
  });

  it('retries every dead mail with --all-dead', async () => {
    await db.knex('outbox').where({ id: deadId }).update({ status: 'dead' });
    const result = await runCli(db.url, ['mail:retry', '--all-dead']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /1 mail\(s\) queued again/);
    assert.equal(Number(((await db.knex('outbox').where({ status: 'dead' }).count({ n: '*' }).first()) as { n: number }).n), 0);
  });
});
