import type { Knex } from 'knex';

// The transactional outbox: written with the change that causes the mail, sent by the worker.
// A row holds what the mail is about (kind + JSON payload); the worker renders it in the
// recipient's locale when sending, so writing thousands of rows in one transaction stays cheap.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('outbox', (table) => {
    table.increments('id').primary();
    table.string('kind', 32).notNullable();
    table.integer('request_id').nullable().references('change_requests.id');
    table.string('recipient_address', 254).notNullable();
    table.string('recipient_name', 200).notNullable().defaultTo('');
    table.string('locale', 8).notNullable();
    table.text('payload').notNullable();
    table.string('status', 8).notNullable().defaultTo('pending');
    table.integer('attempts').notNullable().defaultTo(0);
    table.bigInteger('next_attempt_at').notNullable();
    table.string('claimed_by', 80).nullable();
    table.bigInteger('claimed_until').nullable();
    table.text('last_error').nullable();
    table.bigInteger('created_at').notNullable();
    table.bigInteger('sent_at').nullable();
    table.index(['status', 'next_attempt_at'], 'outbox_due');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('outbox');
}
