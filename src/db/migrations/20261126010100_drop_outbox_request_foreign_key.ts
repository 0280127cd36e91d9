import type { Knex } from 'knex';

// outbox.request_id no longer references change_requests.id. A mail is written in the same
// transaction as the change of the request it is about, with the id of a request that
// transaction has just changed: the reference checked nothing the domain could get wrong, and it
// cost a check per mail, on PostgreSQL a trigger that looks the request up and locks its row.
// The expiry sweep writes about three mails per request: those checks were about 6 % of the
// machine's work in it (perf on the expiry benchmark). The id stays a plain column: the
// dispatcher uses it to skip mail whose code no longer works, and a code whose request is not
// found counts as not working.
//
// On SQLite a constraint can only be dropped by rebuilding the table (knex copies it, with its
// indexes; the outbox has no triggers to lose).

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') {
    await knex.raw('ALTER TABLE outbox DROP CONSTRAINT outbox_request_id_foreign');
  } else {
    await knex.schema.alterTable('outbox', (table) => table.dropForeign(['request_id']));
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (table) => table.foreign('request_id').references('change_requests.id'));
}
