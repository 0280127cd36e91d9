import type { Knex } from 'knex';

// Security-relevant events that are not request transitions: logins, profile and owner changes.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_log', (table) => {
    table.increments('id').primary();
    table.integer('account_id').nullable().references('accounts.id');
    table.string('action', 40).notNullable();
    table.string('subject', 120).nullable();
    table.string('ip', 64).nullable();
    table.text('detail').nullable();
    table.bigInteger('at').notNullable();
    table.index(['account_id', 'at'], 'audit_log_account');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_log');
}
