import type { Knex } from 'knex';

// services.search_name: the service's name as searches compare it (src/domain/search-text.ts),
// written with the name by the application, and filled here for the services already there.
//
// The folding is copied below rather than imported, so this migration keeps doing what it did
// when it landed: a later change of foldForSearch comes with a migration of its own that folds
// the stored names again.
//
// The column cannot be NOT NULL from the start on SQLite (ADD COLUMN needs a default then, and a
// default would let a writer that forgets the column pass unnoticed): PostgreSQL gets NOT NULL
// after the fill, SQLite a trigger refusing a service without it. Both are added with plain
// ALTER TABLE / CREATE TRIGGER, never a knex table rebuild, which would drop the counts
// triggers of migration 20261124050100.

function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toUpperCase().toLowerCase().replace(/ς/g, 'σ');
}

/** Services per UPDATE while filling in the names that are not plain ASCII. */
const CHUNK = 2000;

export async function up(knex: Knex): Promise<void> {
  const postgres = knex.client.config.client === 'pg';
  // Sorted and compared byte for byte on both databases: PostgreSQL's default collation would
  // order by its locale's rules (which skip punctuation, common in domain names) instead.
  await knex.raw(`ALTER TABLE services ADD COLUMN search_name text${postgres ? ' COLLATE "C"' : ''}`);
  // Printable ASCII folds to its lower case, which both databases compute alike (on PostgreSQL
  // under the "C" collation, whatever the database's locale: a Turkish one lowers "I" to "ı").
  await knex.raw(
    postgres
      ? `UPDATE services SET search_name = lower(name COLLATE "C") WHERE name COLLATE "C" ~ '^[ -~]*$'`
      : `UPDATE services SET search_name = lower(name) WHERE name NOT GLOB '*[^ -~]*'`,
  );
  // The rest, in id order, folded here.
  let after = 0;
  for (;;) {
    const rows = (await knex('services')
      .whereNull('search_name')
      .where('id', '>', after)
      .orderBy('id')
      .limit(CHUNK)
      .select('id', 'name')) as { id: number; name: string }[];
    if (rows.length === 0) break;
    const folded = JSON.stringify(rows.map((row) => [Number(row.id), fold(row.name)]));
    await knex.raw(
      postgres
        ? `UPDATE services AS s SET search_name = j.value ->> 1
             FROM json_array_elements(CAST(? AS json)) AS j(value)
            WHERE s.id = CAST(j.value ->> 0 AS integer)`
        : `UPDATE services SET search_name = j.value ->> 1
             FROM json_each(?) AS j
            WHERE services.id = j.value ->> 0`,
      [folded],
    );
    after = Number(rows[rows.length - 1]?.id);
  }
  if (postgres) {
    await knex.raw('ALTER TABLE services ALTER COLUMN search_name SET NOT NULL');
  } else {
    await knex.raw(
      `CREATE TRIGGER services_search_name_required BEFORE INSERT ON services WHEN NEW.search_name IS NULL BEGIN
         SELECT RAISE(ABORT, 'NOT NULL constraint failed: services.search_name');
       END`,
    );
    await knex.raw(
      `CREATE TRIGGER services_search_name_kept BEFORE UPDATE OF search_name ON services WHEN NEW.search_name IS NULL BEGIN
         SELECT RAISE(ABORT, 'NOT NULL constraint failed: services.search_name');
       END`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') {
    await knex.raw('DROP TRIGGER services_search_name_required');
    await knex.raw('DROP TRIGGER services_search_name_kept');
  }
  await knex.raw('ALTER TABLE services DROP COLUMN search_name');
}
