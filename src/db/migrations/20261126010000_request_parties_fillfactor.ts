import type { Knex } from 'knex';

// request_parties on PostgreSQL: pages filled to 70 %, not 100 %. A party's row is updated in
// place several times in a request's life (its token renewed by a reminder or a resend, its
// decision, its token killed when the request closes), and none of those updates changes an
// indexed column: with room on the row's page, PostgreSQL writes the new version there without a
// new entry in any of the table's three indexes (a HOT update). On full pages every one of those
// updates wrote three index entries. Killing the tokens of 1,000 expiring requests (2,000 rows,
// EXPLAIN ANALYZE on the expiry benchmark's 100,000 requests): at 100 %, 4 HOT updates and
// 15.2 ms; at 80 %, 1,160 and 10.0 ms; at 70 %, 1,920 and 5.5 ms. The price is room: that table
// took 32 MB instead of 22 MB.
//
// Only pages written from now on are filled that way; existing pages keep theirs until the table
// is rewritten (VACUUM FULL), which this migration does not do on a live table. SQLite has no
// such setting: nothing to do there.

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE request_parties SET (fillfactor = 70)');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE request_parties RESET (fillfactor)');
}
