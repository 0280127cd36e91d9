import type { Knex } from 'knex';

// How many services each account holds a role on, kept by the database itself (triggers of
// migration 20261124050100), so the contacts list reads its total by primary key instead of
// counting the account's index entries on every page:
//   services  distinct services where the account holds at least one role
//   admin, tech, billing  services where it holds that role
// A service with the same account in two or three roles counts once in `services` and once in
// each of those roles' columns.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_service_counts', (table) => {
    table.integer('account_id').notNullable().primary().references('accounts.id').onDelete('CASCADE');
    for (const column of ['services', 'admin', 'tech', 'billing']) table.integer(column).notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_service_counts');
}
