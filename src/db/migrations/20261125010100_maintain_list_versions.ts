import type { Knex } from 'knex';

// Keeps account_service_counts.list_version (migration 20261125010000) with triggers: every
// account among the contacts of a service that is inserted or deleted, or whose contacts, folded
// name (search_name) or type change, gets a new version, since any of those can change how many
// services match one of its searches. Other updates of services (owner details, updated_at) leave
// the versions alone.
//
// A new version is the clock's time in microseconds, or one more than the version before if that
// is not less: versions only grow, and never come back even when the counts' rows are rebuilt
// (migration 20261124050100 run down and up again starts them at 0), so a total kept for an old
// version can never be taken for a new one.
//
// These are separate triggers beside the counts' (migration 20261124050100), not a rewrite of
// them. On PostgreSQL, triggers on the same event fire in the order of their names, so
// `account_service_counts_list_version_*` fires before `account_service_counts_services_*`: it locks
// every account the statement touches, in account order, and the counts' trigger then only
// updates rows its transaction already holds. Two statements therefore still take their locks in
// one ordered pass each and cannot deadlock on each other's counts.
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

/** The contacts of `relation`'s rows, one column at a time. */
function contactsOf(relation: string, prefix = ''): string {
  return ['admin_id', 'tech_id', 'billing_id'].map((column) => `SELECT ${prefix}${column} FROM ${relation}`).join(' UNION ');
}

/** Old and new rows of an update whose contacts, folded name or type changed. */
const MOVED = `(SELECT o.admin_id, o.tech_id, o.billing_id, n.admin_id AS new_admin_id, n.tech_id AS new_tech_id, n.billing_id AS new_billing_id
                  FROM old_rows AS o
                  JOIN new_rows AS n ON n.id = o.id
                 WHERE (o.search_name, o.type, o.admin_id, o.tech_id, o.billing_id)
                       IS DISTINCT FROM (n.search_name, n.type, n.admin_id, n.tech_id, n.billing_id)) AS moved`;

const PG_FUNCTIONS = {
  account_service_counts_list_version_insert: bump(contactsOf('new_rows')),
  account_service_counts_list_version_delete: bump(contactsOf('old_rows')),
  account_service_counts_list_version_update: bump(`${contactsOf(MOVED)} UNION ${contactsOf(MOVED, 'new_')}`),
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

/** SQLite: a new version for the contacts of one row. */
function sqliteBump(...rows: ('NEW' | 'OLD')[]): string {
  const accounts = rows.flatMap((row) => [`${row}.admin_id`, `${row}.tech_id`, `${row}.billing_id`]);
  return `UPDATE account_service_counts
       SET list_version = max(list_version + 1, CAST((julianday('now') - 2440587.5) * 86400000000.0 AS integer))
     WHERE account_id IN (${accounts.join(', ')});`;
}

const LISTED_COLUMNS = ['search_name', 'type', 'admin_id', 'tech_id', 'billing_id'];

const SQLITE_TRIGGERS = [
  `CREATE TRIGGER account_service_counts_list_version_insert AFTER INSERT ON services BEGIN
     ${sqliteBump('NEW')}
   END`,
  `CREATE TRIGGER account_service_counts_list_version_delete AFTER DELETE ON services BEGIN
     ${sqliteBump('OLD')}
   END`,
  `CREATE TRIGGER account_service_counts_list_version_update AFTER UPDATE OF ${LISTED_COLUMNS.join(', ')} ON services
     WHEN ${LISTED_COLUMNS.map((column) => `OLD.${column} IS NOT NEW.${column}`).join(' OR ')}
   BEGIN
     ${sqliteBump('OLD', 'NEW')}
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
