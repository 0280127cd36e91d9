import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('change_requests', (table) => {
    table.increments('id').primary();
    table.integer('service_id').notNullable().references('services.id');
    table.integer('requester_id').notNullable().references('accounts.id');
    table.integer('from_account_id').notNullable().references('accounts.id');
    table.integer('to_account_id').notNullable().references('accounts.id');
    // Comma-separated roles in canonical order (admin,tech,billing).
    table.string('roles', 40).notNullable();
    table.string('state', 12).notNullable().defaultTo('pending');
    table.string('failure_reason', 64).nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.bigInteger('decided_at').nullable();
    table.bigInteger('reminded_at').nullable();
    table.index(['state', 'expires_at'], 'change_requests_state_expires');
    table.index(['service_id', 'state'], 'change_requests_service_state');
    table.index(['requester_id'], 'change_requests_requester');
    table.index(['from_account_id'], 'change_requests_from');
    table.index(['to_account_id'], 'change_requests_to');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('change_requests');
}
