import type { Knex } from 'knex';

// Tokens are kept only as hashes (DESIGN.md). The dispatcher now drops a mail's copy of its token
// once the mail is delivered (src/mail/dispatcher.ts); this drops it from the mail delivered before
// that, which would otherwise keep it until the retention purge. Mail not yet delivered (pending,
// dead) keeps its token so it can still be sent. The kinds are written out rather than imported:
// a migration must not change when the code does.
const TOKEN_KINDS = ['request.confirm', 'request.reminder'];

export async function up(knex: Knex): Promise<void> {
  const withoutToken = knex.client.config.client === 'pg' ? `CAST(CAST(payload AS jsonb) - 'token' AS text)` : `json_remove(payload, '$.token')`;
  await knex('outbox')
    .where('status', 'sent')
    .whereIn('kind', TOKEN_KINDS)
    .update({ payload: knex.raw(withoutToken) });
}

// Nothing to undo: a token removed is gone, and the mail was delivered.
export async function down(): Promise<void> {}
