// What a failed query says about itself ends up in the logs: the SQL, never the values in it.
import assert from 'node:assert/strict';
import { isUniqueViolation } from '../../src/domain/db-errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('db: errors of failed queries', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await db.knex.schema.createTable('probe_secrets', (table) => {
      table.increments('id');
      table.string('secret').notNullable().unique();
    });
  });
  after(() => db.destroy());

  it('names the SQL with placeholders, not the bound values', async () => {
    const secret = 'correct-horse-battery-staple-0123456789';
    await db.knex('probe_secrets').insert({ secret });
    const error = await db.knex('probe_secrets').insert({ secret }).then(
      () => assert.fail('the duplicate was written'),
      (rejection: unknown) => rejection as Error,
    );
    assert.ok(isUniqueViolation(error), String(error));
    assert.match(error.message, /insert into "?`?probe_secrets/i);
    assert.ok(!error.message.includes(secret), error.message);
    const raw = await db.knex.raw('SELECT no_such_column FROM probe_secrets WHERE secret = ?', [secret]).then(
      () => assert.fail('the query ran'),
      (rejection: unknown) => rejection as Error,
    );
    assert.match(raw.message, /no_such_column/);
    assert.ok(!raw.message.includes(secret), raw.message);
  });
});
