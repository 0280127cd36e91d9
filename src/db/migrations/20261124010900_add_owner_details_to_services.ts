import type { Knex } from 'knex';

// Owner details of a domain; the administrator may edit all but the name.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('services', (table) => {
    table.string('owner_name', 200).nullable();
    table.string('owner_street', 200).nullable();
    table.string('owner_postal_code', 20).nullable();
    table.string('owner_city', 100).nullable();
    table.string('owner_country', 2).nullable();
    table.string('owner_phone', 32).nullable();
    table.string('owner_email', 254).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('services', (table) => {
    for (const column of ['owner_name', 'owner_street', 'owner_postal_code', 'owner_city', 'owner_country', 'owner_phone', 'owner_email']) {
      table.dropColumn(column);
    }
  });
}
