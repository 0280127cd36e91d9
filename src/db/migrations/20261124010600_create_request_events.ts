import type { Knex } from 'knex';

// The audit trail of a request: every transition with who, when and from which state.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('request_events', (table) => {
    table.increments('id').primary();
    table.integer('request_id').notNullable().references('change_requests.id');
    table.string('event', 20).notNullable();
    table.string('from_state', 12).nullable();
    table.string('to_state', 12).notNullable();
    table.integer('actor_id').nullable().references('accounts.id');
    table.string('ip', 64).nullable();
    table.bigInteger('at').notNullable();
    table.index(['request_id', 'at'], 'request_events_request');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('request_events');
}
