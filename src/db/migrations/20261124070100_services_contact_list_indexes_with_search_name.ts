import type { Knex } from 'knex';

// The contacts list now sorts and searches by search_name (migration 20261124070000), the name
// folded without case or accents, so "école" sorts with "Ecole" rather than after "zulu". Its
// covering indexes (migration 20261124030000) are rebuilt on that key: each arm still counts and
// pages over the account's index entries alone, and the entries are no wider than before, since
// the name itself is read only for the page's rows.
const INDEXES = [
  { name: 'services_admin_search_list', columns: ['admin_id', 'search_name', 'id', 'type'] },
  { name: 'services_tech_search_list', columns: ['tech_id', 'search_name', 'id', 'admin_id', 'type'] },
  { name: 'services_billing_search_list', columns: ['billing_id', 'search_name', 'id', 'admin_id', 'tech_id', 'type'] },
];
const REPLACED = [
  { name: 'services_admin_list', columns: ['admin_id', 'name', 'id', 'type'] },
  { name: 'services_tech_list', columns: ['tech_id', 'name', 'id', 'admin_id', 'type'] },
  { name: 'services_billing_list', columns: ['billing_id', 'name', 'id', 'admin_id', 'tech_id', 'type'] },
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
