import type { Knex } from 'knex';

// Counters of rate-limiter-flexible (its SQLite/PostgreSQL stores share this shape), kept in the
// database so every web process sees the same limits.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (table) => {
    table.string('key', 255).primary();
    table.integer('points').notNullable().defaultTo(0);
    table.bigInteger('expire').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_limits');
}
