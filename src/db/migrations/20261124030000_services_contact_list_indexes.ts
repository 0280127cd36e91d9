import type { Knex } from 'knex';

// The contacts table lists the services where an account holds a role, by name (or type) with
// a search on the name, as three disjoint arms merged in (name, id) order:
//   admin_id = A
//   tech_id = A AND admin_id <> A
//   billing_id = A AND admin_id <> A AND tech_id <> A
// Each index below holds everything its arm filters, sorts and returns (id, name, type and the
// earlier arms' columns), so counting and paging read only the account's index entries, never
// the table, on SQLite and PostgreSQL (index-only scans) alike. They replace the (role, name)
// indexes, whose prefix they keep for every other lookup by contact.
const INDEXES = [
  { name: 'services_admin_list', columns: ['admin_id', 'name', 'id', 'type'] },
  { name: 'services_tech_list', columns: ['tech_id', 'name', 'id', 'admin_id', 'type'] },
  { name: 'services_billing_list', columns: ['billing_id', 'name', 'id', 'admin_id', 'tech_id', 'type'] },
];
const REPLACED = [
  { name: 'services_admin_name', columns: ['admin_id', 'name'] },
  { name: 'services_tech_name', columns: ['tech_id', 'name'] },
  { name: 'services_billing_name', columns: ['billing_id', 'name'] },
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('services', (table) => {
    for (const index of INDEXES) table.index(index.columns, index.name);
  });
  await knex.schema.alterTable('services', (table) => {
    for (const index of REPLACED) table.dropIndex(index.columns, index.name);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('services', (table) => {
    for (const index of REPLACED) table.index(index.columns, index.name);
  });
  await knex.schema.alterTable('services', (table) => {
    for (const index of INDEXES) table.dropIndex(index.columns, index.name);
  });
}
