import type { Knex } from 'knex';

// account_service_counts.list_version: a number that changes whenever an account's contacts list
// may change: which services it holds, their order, how many match a search or a type (the
// triggers of migration 20261125010100). The contacts list remembers, per process, the totals and
// pages' first rows of the lists it served at one version, and uses them only while the version
// stays the same.
//
// Versions are taken from the clock (microseconds since 1970) and only grow. The rows already
// there start at the migration's time, so the lists of existing accounts can be remembered at
// once; a row created later starts at 0, which the contacts list never remembers at.
//
// Plain ALTER TABLE, never a knex table rebuild, which would drop the triggers of earlier
// migrations on SQLite.

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE account_service_counts ADD COLUMN list_version bigint NOT NULL DEFAULT 0');
  const now =
    knex.client.config.client === 'pg'
      ? 'CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint)'
      : "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS integer)";
  await knex.raw(`UPDATE account_service_counts SET list_version = ${now}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE account_service_counts DROP COLUMN list_version');
}
