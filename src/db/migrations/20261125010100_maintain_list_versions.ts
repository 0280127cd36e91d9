import type { Knex } from 'knex';

// Keeps account_service_counts.list_version (migration 20261125010000) with triggers: a new
// version for every contact of a service inserted or deleted, for every contact of a service
// whose folded name (search_name) or type changes, and, when a contact changes, for the account
// that lost the role and the one that got it. Those are the writes that can change which services
// an account's list holds, in which order, or how many match one of its searches. The other
// contacts of a service handed over keep their version: their lists hold the same rows in the
// same order (only a handle shown in a row changes, and rows are never remembered). Other updates
// of services (owner details, updated_at) leave the versions alone. A service's id never changes
// (nothing updates it, and change requests refer to it), so it is not watched.
//
// A new version is the clock's time in microseconds, or one more than the version before if that
// is not less: versions only grow, and are never 0 again once set (0 is what a counts row starts
// at: the contacts list remembers nothing at version 0).
//
// These are separate triggers beside the counts' (migration 20261124050100), not a rewrite of
// them. On PostgreSQL, triggers on the same event fire in the order of their names, so
// `account_service_counts_list_version_*` fires before `account_service_counts_services_*`: it locks
// every account whose counts the statement changes (and maybe more), in account order, and the
// counts' trigger then only updates rows its transaction already holds. Two statements therefore
// still take their locks in one ordered pass each and cannot deadlock on each other's counts.
//
// As with the counts, a later migration that makes knex rebuild `services` on SQLite (copy, drop,
// recreate) must create these triggers again.

/** PostgreSQL: one new version for each account in `accountsSql`, its row locked in account order. */
function bump(accountsSql: string): string {
  return `UPDATE account_service_counts AS c
       SET list_version = greatest(c.list_version + 1, CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint))
      FROM (SELECT l.account_id
              FROM account_service_counts AS l
             WHERE l.account_id IN (${accountsSql})
             ORDER BY l.account_id
               FOR UPDATE OF l) AS d
     WHERE c.account_id = d.account_id`;
}

const CONTACTS = ['admin_id', 'tech_id', 'billing_id'];

/** The contacts of `relation`'s rows, one column at a time. */
function contactsOf(relation: string): string {
  return CONTACTS.map((column) => `SELECT ${column} FROM ${relation}`).join(' UNION ');
}

/**
 * Of an update's rows, the accounts whose lists it changes: all contacts, old and new, of a row
 * whose folded name or type changed; the old and the new account of each contact that changed.
 */
const MOVED_ACCOUNTS = `WITH moved AS (
    SELECT ${CONTACTS.map((column) => `o.${column} AS old_${column}, n.${column} AS new_${column}`).join(', ')},
           (o.search_name, o.type) IS DISTINCT FROM (n.search_name, n.type) AS refiled
      FROM old_rows AS o
      JOIN new_rows AS n ON n.id = o.id
     WHERE (o.search_name, o.type, o.admin_id, o.tech_id, o.billing_id)
           IS DISTINCT FROM (n.search_name, n.type, n.admin_id, n.tech_id, n.billing_id))
  ${CONTACTS.flatMap((column) =>
    ['old', 'new'].map((side) => `SELECT ${side}_${column} FROM moved WHERE refiled OR old_${column} IS DISTINCT FROM new_${column}`),
  ).join(' UNION ')}`;

const PG_FUNCTIONS = {
  account_service_counts_list_version_insert: bump(contactsOf('new_rows')),
  account_service_counts_list_version_delete: bump(contactsOf('old_rows')),
  account_service_counts_list_version_update: bump(MOVED_ACCOUNTS),
  account_service_counts_list_version_truncate: `UPDATE account_service_counts
       SET list_version = greatest(list_version + 1, CAST(extract(epoch FROM clock_timestamp()) * 1000000 AS bigint))
     WHERE services <> 0`,
};

const PG_TRIGGERS = [
  `CREATE TRIGGER account_service_counts_list_version_insert AFTER INSERT ON services
     REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_list_version_insert()`,
  `CREATE TRIGGER account_service_counts_list_version_delete AFTER DELETE ON services
     REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_list_version_delete()`,
  `CREATE TRIGGER account_service_counts_list_version_update AFTER UPDATE ON services
     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_list_version_update()`,
  // Fires before the counts' truncate trigger (name order), while `services` still tells who had some.
  `CREATE TRIGGER account_service_counts_list_version_truncate AFTER TRUNCATE ON services
     FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_list_version_truncate()`,
];

/** SQLite: a new version for the accounts `accounts` (NULLs are skipped). */
function sqliteBump(accounts: string[]): string {
  return `UPDATE account_service_counts
       SET list_version = max(list_version + 1, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS integer))
     WHERE account_id IN (${accounts.join(', ')});`;
}

const REFILED = 'OLD.search_name IS NOT NEW.search_name OR OLD.type IS NOT NEW.type';

const SQLITE_TRIGGERS = [
  `CREATE TRIGGER account_service_counts_list_version_insert AFTER INSERT ON services BEGIN
     ${sqliteBump(CONTACTS.map((column) => `NEW.${column}`))}
   END`,
  `CREATE TRIGGER account_service_counts_list_version_delete AFTER DELETE ON services BEGIN
     ${sqliteBump(CONTACTS.map((column) => `OLD.${column}`))}
   END`,
  // Each account in the IN list only when its list changes, NULL (matching nothing) otherwise.
  `CREATE TRIGGER account_service_counts_list_version_update AFTER UPDATE OF search_name, type, ${CONTACTS.join(', ')} ON services
     WHEN ${REFILED} OR ${CONTACTS.map((column) => `OLD.${column} IS NOT NEW.${column}`).join(' OR ')}
   BEGIN
     ${sqliteBump(
       CONTACTS.flatMap((column) =>
         ['OLD', 'NEW'].map((side) => `CASE WHEN ${REFILED} OR OLD.${column} IS NOT NEW.${column} THEN ${side}.${column} END`),
       ),
     )}
   END`,
];

const TRIGGERS = ['insert', 'delete', 'update', 'truncate'].map((event) => `account_service_counts_list_version_${event}`);

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    for (const [name, body] of Object.entries(PG_FUNCTIONS)) {
      await knex.raw(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          ${body};
          RETURN NULL;
        END
      $$`);
    }
    for (const trigger of PG_TRIGGERS) await knex.raw(trigger);
  } else {
    for (const trigger of SQLITE_TRIGGERS) await knex.raw(trigger);
  }
}

export async function down(knex: Knex): Promise<void> {
  const postgres = knex.client.config.client === 'pg';
  for (const name of TRIGGERS) {
    await knex.raw(postgres ? `DROP TRIGGER IF EXISTS ${name} ON services` : `DROP TRIGGER IF EXISTS ${name}`);
    if (postgres) await knex.raw(`DROP FUNCTION IF EXISTS ${name}()`);
  }
}
