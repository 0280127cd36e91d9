// Migration 20261124080000: mail delivered before the dispatcher dropped tokens on delivery loses
// its copy of the token; mail not yet delivered keeps it.
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { insertMail, payload, TOKEN } from '../mail/mail-helpers.js';
import * as migration from '../../src/db/migrations/20261124080000_remove_tokens_from_sent_outbox_mail.js';

describe('db: tokens of delivered mail (migration 20261124080000)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.destroy());

  it('drops the token of sent confirmation and reminder mail only', async () => {
    const [sentConfirm, sentReminder, pendingConfirm, deadReminder, sentDone] = await insertMail(db.knex, [
      { kind: 'request.confirm', status: 'sent' },
      { kind: 'request.reminder', status: 'sent' },
      { kind: 'request.confirm', status: 'pending' },
      { kind: 'request.reminder', status: 'dead' },
      { kind: 'request.done', status: 'sent' },
    ]);
    await migration.up(db.knex);
    const rows = (await db.knex('outbox').select('id', 'payload')) as { id: number; payload: string }[];
    const stored = new Map(rows.map((row) => [Number(row.id), JSON.parse(row.payload) as Record<string, unknown>]));
    const { token: _dropped, ...withoutToken } = payload({ token: TOKEN });
    assert.deepEqual(stored.get(sentConfirm as number), withoutToken);
    assert.deepEqual(stored.get(sentReminder as number), withoutToken);
    assert.equal(stored.get(pendingConfirm as number)?.token, TOKEN, 'not delivered yet: kept');
    assert.equal(stored.get(deadReminder as number)?.token, TOKEN, 'dead, may be retried: kept');
    assert.deepEqual(stored.get(sentDone as number), payload());
  });
});
