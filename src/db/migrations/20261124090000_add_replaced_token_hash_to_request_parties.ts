import type { Knex } from 'knex';

// request_parties.replaced_token_hash: the hash of the token a party's newer mail (a reminder, a
// resend) replaced. The replaced token still opens nothing; it only lets the confirmation page
// tell someone acting on the older mail that a newer one was sent, instead of "invalid code"
// (which also counts as a wrong guess). Like token_hash, it is a SHA-256 hash, never the token.
//
// Plain ALTER TABLE, never a knex table rebuild, which would drop the triggers of earlier
// migrations on SQLite.

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE request_parties ADD COLUMN replaced_token_hash varchar(64) NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE request_parties DROP COLUMN replaced_token_hash');
}
