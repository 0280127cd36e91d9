import type { Knex } from 'knex';

// The two parties whose consent a request needs, each with its own single-use token.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('request_parties', (table) => {
    table.increments('id').primary();
    table.integer('request_id').notNullable().references('change_requests.id');
    table.integer('account_id').notNullable().references('accounts.id');
    // SHA-256 of the token, hex; NULL once the token is used or killed.
    table.string('token_hash', 64).nullable();
    table.bigInteger('token_issued_at').notNullable();
    table.string('decision', 8).nullable();
    table.bigInteger('decided_at').nullable();
    table.unique(['request_id', 'account_id'], { indexName: 'request_parties_request_account' });
    table.index(['account_id'], 'request_parties_account');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('request_parties');
}
