import type { Knex } from 'knex';

// The recipient's time zone when the mail was queued (as its locale is), for the dates in the
// mail; NULL = the installation's DEFAULT_TIME_ZONE when the mail is rendered.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (table) => {
    table.string('time_zone', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (table) => {
    table.dropColumn('time_zone');
  });
}
