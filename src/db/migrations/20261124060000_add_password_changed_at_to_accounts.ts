import type { Knex } from 'knex';

// When the account's password last changed (epoch ms; NULL = never since this column exists).
// Each session remembers the value it logged in with; a session whose value differs from the
// account's is ended, in every web process, whatever any cache or store still holds of it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (table) => {
    table.bigInteger('password_changed_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (table) => {
    table.dropColumn('password_changed_at');
  });
}
