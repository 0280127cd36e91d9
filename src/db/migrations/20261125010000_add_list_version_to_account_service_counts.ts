import type { Knex } from 'knex';

// account_service_counts.list_version: a number that changes whenever the set of services in an
// account's contacts list, or a name or type the list filters on, changes (the triggers of
// migration 20261125010100). The contacts list keeps the totals of its searches in memory
// against it, so a search counts its matches once per version instead of on every page.
// Versions only grow and never repeat (see that migration); accounts are never deleted and their
// ids never reused, so a total kept for an older version can never be taken for a newer one.
//
// Plain ALTER TABLE, never a knex table rebuild, which would drop the triggers of earlier
// migrations on SQLite.

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE account_service_counts ADD COLUMN list_version bigint NOT NULL DEFAULT 0');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE account_service_counts DROP COLUMN list_version');
}
