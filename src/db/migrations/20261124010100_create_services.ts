import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('services', (table) => {
    table.increments('id').primary();
    table.string('name', 200).notNullable();
    table.string('type', 20).notNullable();
    table.integer('admin_id').notNullable().references('accounts.id');
    table.integer('tech_id').notNullable().references('accounts.id');
    table.integer('billing_id').notNullable().references('accounts.id');
    table.bigInteger('created_at').notNullable();
    table.bigInteger('updated_at').notNullable();
    // The contacts table lists a user's services by role, ordered by name or type.
    table.index(['admin_id', 'name'], 'services_admin_name');
    table.index(['tech_id', 'name'], 'services_tech_name');
    table.index(['billing_id', 'name'], 'services_billing_name');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('services');
}
