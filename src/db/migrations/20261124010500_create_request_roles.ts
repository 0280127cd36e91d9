import type { Knex } from 'knex';

// One row per role a request moves. While the request is pending the row is active, and the
// partial unique index makes the database refuse a second pending request on the same role.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('request_roles', (table) => {
    table.integer('request_id').notNullable().references('change_requests.id');
    table.integer('service_id').notNullable().references('services.id');
    table.string('role', 8).notNullable();
    table.boolean('active').notNullable().defaultTo(true);
    table.primary(['request_id', 'role']);
  });
  await knex.raw('CREATE UNIQUE INDEX request_roles_one_pending ON request_roles (service_id, role) WHERE active');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('request_roles');
}
