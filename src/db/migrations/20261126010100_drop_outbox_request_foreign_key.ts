import type { Knex } from 'knex';

// On PostgreSQL, outbox.request_id no longer references change_requests.id. A mail about a request
// is written in the same transaction as the change it reports, with the id of a request that
// transaction has just written (and so holds locked): the reference checked nothing the domain
// could get wrong, and it cost, for every mail, a trigger that looks the request up and locks its
// row. The expiry sweep writes about three mails per request: those checks were about 6 % of the
// machine's work in it (perf on the expiry benchmark). The id stays a plain column: the dispatcher
// uses it to skip mail whose code no longer works, and a code whose request is not found counts as
// not working.
//
// SQLite keeps the reference. There the check is one primary-key lookup, not a trigger, and a
// constraint can only be dropped by copying the whole table (sent mail included) while holding
// the write lock, which would also reset the table's AUTOINCREMENT counter to its largest
// remaining id; the ids of purged mail, which name its Message-ID, would then be given out again.

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_request_id_foreign');
}

// Fails if a mail names a request that does not exist, which may have been written meanwhile.
export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw('ALTER TABLE outbox ADD CONSTRAINT outbox_request_id_foreign FOREIGN KEY (request_id) REFERENCES change_requests (id)');
  }
}
