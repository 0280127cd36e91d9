import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (table) => {
    table.increments('id').primary();
    // Stored lower-case; the unique index makes handles unique case-insensitively.
    table.string('handle', 40).notNullable().unique();
    table.string('email', 254).notNullable();
    table.string('name', 200).notNullable().defaultTo('');
    table.string('locale', 8).notNullable().defaultTo('en');
    table.string('password_hash', 255).notNullable();
    table.bigInteger('billing_overdue_since').nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('accounts');
}
