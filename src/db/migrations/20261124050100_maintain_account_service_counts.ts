import type { Knex } from 'knex';

// Keeps account_service_counts (migration 20261124050000) exact with triggers, then fills it for
// the data already there; migrate:latest runs this in one transaction, and the triggers lock the
// tables they are created on until it commits, so no write falls between the fill and the triggers.
//
// Every account gets its row when it is created, so the services triggers only ever UPDATE it.
// A service counts for each distinct account among its three contacts, split into the same three
// disjoint arms as the contacts list (admin; tech unless also admin; billing unless also admin
// or tech), so a service naming one account in several roles counts once in `services`.
//
// SQLite: row triggers, one UPDATE of at most three (six for an update) rows by primary key.
// PostgreSQL: statement triggers over the transition tables, the rows aggregated per account first,
// so a multi-row INSERT of thousands of services is one UPDATE of the accounts it touches. PostgreSQL
// does not allow transition tables on an `UPDATE OF column` trigger: the UPDATE trigger fires on
// every update of services and works out what changed from the contacts themselves (new EXCEPT ALL
// old and old EXCEPT ALL new), which is empty when no contact changed. The counts' rows are locked
// in account order before they are updated, so two transactions updating the counts of the same
// accounts in one statement each cannot deadlock.
//
// On SQLite, knex rebuilds a table for some alterTable changes (copy, drop, recreate), and dropping
// a table drops its triggers: a later migration that makes knex rebuild `services` or `accounts`
// must create these triggers again.

/** One row per (service, distinct contact account) of `relation`, with the roles it holds there. */
function arms(relation: string, sign = 1): string {
  const flag = (condition: string) => `CASE WHEN ${condition} THEN ${sign} ELSE 0 END`;
  return `SELECT admin_id AS account_id, ${sign} AS services, ${sign} AS admin, ${flag('tech_id = admin_id')} AS tech, ${flag('billing_id = admin_id')} AS billing FROM ${relation}
    UNION ALL
    SELECT tech_id, ${sign}, 0, ${sign}, ${flag('billing_id = tech_id')} FROM ${relation} WHERE tech_id <> admin_id
    UNION ALL
    SELECT billing_id, ${sign}, 0, 0, ${sign} FROM ${relation} WHERE billing_id <> admin_id AND billing_id <> tech_id`;
}

const COLUMNS = ['services', 'admin', 'tech', 'billing'] as const;

/** The per-account sums of `armsSql`, without the accounts whose counts do not move. */
function perAccount(armsSql: string): string {
  return `SELECT account_id, ${COLUMNS.map((column) => `sum(${column}) AS ${column}`).join(', ')}
      FROM (${armsSql}) AS arms
     GROUP BY account_id
    HAVING ${COLUMNS.map((column) => `sum(${column}) <> 0`).join(' OR ')}`;
}

/** PostgreSQL: adds the per-account deltas to the counts, locking their rows in account order. */
function applyDeltas(deltaSql: string): string {
  return `UPDATE account_service_counts AS c
       SET ${COLUMNS.map((column) => `${column} = c.${column} + d.${column}`).join(', ')}
      FROM (SELECT d.*
              FROM account_service_counts AS l
              JOIN (${deltaSql}) AS d ON d.account_id = l.account_id
             ORDER BY l.account_id
               FOR UPDATE OF l) AS d
     WHERE c.account_id = d.account_id`;
}

const CONTACTS = 'admin_id, tech_id, billing_id';

const PG_FUNCTIONS = {
  account_service_counts_accounts_insert: `INSERT INTO account_service_counts (account_id) SELECT id FROM new_rows`,
  account_service_counts_services_insert: applyDeltas(perAccount(arms('new_rows'))),
  account_service_counts_services_delete: applyDeltas(perAccount(arms('old_rows', -1))),
  account_service_counts_services_update: applyDeltas(
    perAccount(
      `${arms(`(SELECT ${CONTACTS} FROM new_rows EXCEPT ALL SELECT ${CONTACTS} FROM old_rows) AS added`)}
       UNION ALL
       ${arms(`(SELECT ${CONTACTS} FROM old_rows EXCEPT ALL SELECT ${CONTACTS} FROM new_rows) AS removed`, -1)}`,
    ),
  ),
  account_service_counts_services_truncate: `UPDATE account_service_counts SET services = 0, admin = 0, tech = 0, billing = 0 WHERE services <> 0`,
};

const PG_TRIGGERS = [
  `CREATE TRIGGER account_service_counts_accounts_insert AFTER INSERT ON accounts
     REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_accounts_insert()`,
  `CREATE TRIGGER account_service_counts_services_insert AFTER INSERT ON services
     REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_services_insert()`,
  `CREATE TRIGGER account_service_counts_services_delete AFTER DELETE ON services
     REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_services_delete()`,
  `CREATE TRIGGER account_service_counts_services_update AFTER UPDATE ON services
     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_services_update()`,
  `CREATE TRIGGER account_service_counts_services_truncate AFTER TRUNCATE ON services
     FOR EACH STATEMENT EXECUTE FUNCTION account_service_counts_services_truncate()`,
];

/** SQLite: what one service row adds to (sign 1) or takes from (sign -1) the counts of its contacts. */
function sqliteRowChange(row: 'NEW' | 'OLD', sign: '+' | '-'): string {
  return `UPDATE account_service_counts
       SET services = services ${sign} 1,
           admin = admin ${sign} (account_id = ${row}.admin_id),
           tech = tech ${sign} (account_id = ${row}.tech_id),
           billing = billing ${sign} (account_id = ${row}.billing_id)
     WHERE account_id IN (${row}.admin_id, ${row}.tech_id, ${row}.billing_id);`;
}

const SQLITE_TRIGGERS = [
  `CREATE TRIGGER account_service_counts_accounts_insert AFTER INSERT ON accounts BEGIN
     INSERT INTO account_service_counts (account_id) VALUES (NEW.id);
   END`,
  `CREATE TRIGGER account_service_counts_services_insert AFTER INSERT ON services BEGIN
     ${sqliteRowChange('NEW', '+')}
   END`,
  `CREATE TRIGGER account_service_counts_services_delete AFTER DELETE ON services BEGIN
     ${sqliteRowChange('OLD', '-')}
   END`,
  // One statement: an account that stays among the contacts keeps its `services` count.
  `CREATE TRIGGER account_service_counts_services_update AFTER UPDATE OF admin_id, tech_id, billing_id ON services
     WHEN OLD.admin_id IS NOT NEW.admin_id OR OLD.tech_id IS NOT NEW.tech_id OR OLD.billing_id IS NOT NEW.billing_id
   BEGIN
     UPDATE account_service_counts
        SET services = services + (account_id IN (NEW.admin_id, NEW.tech_id, NEW.billing_id)) - (account_id IN (OLD.admin_id, OLD.tech_id, OLD.billing_id)),
            admin = admin + (account_id = NEW.admin_id) - (account_id = OLD.admin_id),
            tech = tech + (account_id = NEW.tech_id) - (account_id = OLD.tech_id),
            billing = billing + (account_id = NEW.billing_id) - (account_id = OLD.billing_id)
      WHERE account_id IN (OLD.admin_id, OLD.tech_id, OLD.billing_id, NEW.admin_id, NEW.tech_id, NEW.billing_id);
   END`,
];

const TRIGGER_TABLES: Record<string, string> = {
  account_service_counts_accounts_insert: 'accounts',
  account_service_counts_services_insert: 'services',
  account_service_counts_services_delete: 'services',
  account_service_counts_services_update: 'services',
  account_service_counts_services_truncate: 'services',
};

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
  // Every account, with the counts of the services already there.
  await knex.raw(
    `INSERT INTO account_service_counts (account_id, ${COLUMNS.join(', ')})
     SELECT a.id, ${COLUMNS.map((column) => `COALESCE(d.${column}, 0)`).join(', ')}
       FROM accounts AS a
       LEFT JOIN (${perAccount(arms('services'))}) AS d ON d.account_id = a.id`,
  );
}

export async function down(knex: Knex): Promise<void> {
  const postgres = knex.client.config.client === 'pg';
  for (const [name, table] of Object.entries(TRIGGER_TABLES)) {
    await knex.raw(postgres ? `DROP TRIGGER IF EXISTS ${name} ON ${table}` : `DROP TRIGGER IF EXISTS ${name}`);
  }
  if (postgres) for (const name of Object.keys(PG_FUNCTIONS)) await knex.raw(`DROP FUNCTION IF EXISTS ${name}()`);
  await knex.raw('DELETE FROM account_service_counts');
}
