import type { Knex } from 'knex';

// The job queue of the worker: Agenda 6 keeps its jobs here through src/worker/agenda-knex.
// Times are epoch milliseconds like everywhere else; `data` and `skip_days` are JSON text so
// the same schema works on SQLite and PostgreSQL.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('agenda_jobs', (table) => {
    table.increments('id').primary();
    table.string('name', 255).notNullable();
    table.integer('priority').notNullable().defaultTo(0);
    // 'normal', or 'single' for jobs created by every(): at most one row per name (index below).
    table.string('type', 10).notNullable().defaultTo('normal');
    table.bigInteger('next_run_at').nullable();
    table.bigInteger('locked_at').nullable();
    table.bigInteger('last_run_at').nullable();
    table.bigInteger('last_finished_at').nullable();
    table.bigInteger('failed_at').nullable();
    table.integer('fail_count').nullable();
    table.text('fail_reason').nullable();
    table.string('repeat_interval', 255).nullable();
    table.string('repeat_timezone', 100).nullable();
    table.string('repeat_at', 255).nullable();
    table.text('data').nullable();
    table.boolean('disabled').notNullable().defaultTo(false);
    table.double('progress').nullable();
    table.boolean('fork').notNullable().defaultTo(false);
    table.bigInteger('debounce_started_at').nullable();
    table.bigInteger('start_date').nullable();
    table.bigInteger('end_date').nullable();
    table.text('skip_days').nullable();
    table.string('last_modified_by', 255).nullable();
    // The claim of the next job filters by name, then either "unlocked and due" or "lock expired".
    table.index(['name', 'locked_at', 'next_run_at'], 'agenda_jobs_claim');
    // getQueueSize() counts due jobs over all names.
    table.index(['next_run_at'], 'agenda_jobs_next_run_at');
  });
  // Partial unique index: the upsert of every() relies on it (ON CONFLICT) so two workers calling
  // every() at the same time cannot create two recurring jobs. Both databases support the syntax.
  await knex.raw("CREATE UNIQUE INDEX agenda_jobs_single ON agenda_jobs (name) WHERE type = 'single'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('agenda_jobs');
}
