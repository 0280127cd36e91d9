import type { Knex } from 'knex';

// The IANA time zone an account reads dates in (pages and mail); NULL = automatic: the browser's
// zone on pages, DEFAULT_TIME_ZONE in mail and without JavaScript.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (table) => {
    table.string('time_zone', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (table) => {
    table.dropColumn('time_zone');
  });
}
