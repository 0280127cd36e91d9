// Agenda 6 JobRepository on a SQL table through Knex (SQLite and PostgreSQL).
//
// Semantics follow the official MongoDB backend (@agendajs/mongo-backend), which Agenda's job
// processor was written against; where this file decides differently it says so.
import type { Knex } from 'knex';
import {
  computeJobState,
  type JobId,
  type JobParameters,
  type JobRepository,
  type JobRepositoryOptions,
  type JobState,
  type JobsOverview,
  type JobsQueryOptions,
  type JobsResult,
  type JobsSort,
  type JobWithState,
  type RemoveJobsOptions,
} from 'agenda';
import {
  asRows,
  definitionColumns,
  rowToJob,
  stateColumns,
  toMillis,
  type AgendaJobRow,
  type JobStateColumns,
} from './job-row.js';
import { applyFragments, dataFilter, detectDialect, stateSql, uniqueFilter, type Dialect } from './sql-filters.js';

export interface KnexJobRepositoryOptions {
  /** A ready Knex instance (sqlite3 or pg); the repository never creates or destroys it. */
  knex: Knex;
  /** Defaults to `agenda_jobs`, the table of migration 20261124020000_create_agenda_jobs. */
  tableName?: string;
  /**
   * Told about a failed unlockJob (a busy or lost database). Agenda calls unlockJob without
   * awaiting it, so its failure would otherwise be an unhandled rejection, which ends the process;
   * the lock left behind expires after its lifetime like a crashed worker's.
   */
  onUnlockError?: (error: unknown, jobId: number) => void;
}

type Db = Knex | Knex.Transaction;

/** A lock this repository instance took, so it can release what it still holds on disconnect. */
interface Claim {
  lockedAt: number;
  /** Set once Agenda started running the job: its lock is then released by Agenda itself. */
  running: boolean;
}

const jobStates: ReadonlySet<string> = new Set<JobState>(['running', 'scheduled', 'queued', 'completed', 'failed', 'repeating', 'paused']);

// Ids are the table's integer keys; anything else cannot name a row (and would be a type error
// in PostgreSQL), so it simply matches nothing.
function parseId(id: JobId | string | undefined): number | undefined {
  if (id === undefined || id === null) return undefined;
  const text = String(id);
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined;
}

function parseIds(ids: ReadonlyArray<JobId | string>): number[] {
  return ids.map(parseId).filter((id): id is number => id !== undefined);
}

function countOf(rows: unknown): number {
  const first: unknown = Array.isArray(rows) ? rows[0] : undefined;
  const value = typeof first === 'object' && first !== null && 'count' in first ? first.count : 0;
  return Number(value);
}

/** knex.raw() resolves to the driver's result: an array of rows (SQLite) or `{ rows }` (pg). */
function rawRows(result: unknown): AgendaJobRow[] {
  if (Array.isArray(result)) return asRows(result);
  if (typeof result === 'object' && result !== null && 'rows' in result) return asRows(result.rows);
  throw new TypeError('unexpected result from knex.raw');
}

function firstRow(rows: AgendaJobRow[], what: string): AgendaJobRow {
  const row = rows[0];
  if (!row) throw new Error(`${what} returned no row`);
  return row;
}

function sortColumns(sort: JobsSort | undefined): Array<[string, 'asc' | 'desc']> {
  const columns: Array<[string, 'asc' | 'desc']> = [];
  const map: Array<[keyof JobsSort, string]> = [
    ['nextRunAt', 'next_run_at'],
    ['lastRunAt', 'last_run_at'],
    ['lastFinishedAt', 'last_finished_at'],
    ['priority', 'priority'],
    ['name', 'name'],
    ['data', 'data'],
  ];
  for (const [field, column] of map) {
    const direction = sort?.[field];
    if (direction !== undefined) columns.push([column, direction === 'asc' ? 'asc' : 'desc']);
  }
  // MongoDB backend default: most recent first.
  return columns.length > 0 ? columns : [['next_run_at', 'desc'], ['last_run_at', 'desc']];
}

// MongoDB orders null before any value; keep that on both databases. Spelled out because
// Knex's `nulls` option of orderBy() drops the column itself on SQLite. Columns come from
// sortColumns(), never from the caller.
function orderTerm(column: string, direction: 'asc' | 'desc'): string {
  return `${column} ${direction} NULLS ${direction === 'asc' ? 'FIRST' : 'LAST'}`;
}

export class KnexJobRepository implements JobRepository {
  readonly knex: Knex;
  readonly tableName: string;
  readonly dialect: Dialect;
  private readonly claims = new Map<number, Claim>();
  private readonly claimsInFlight = new Set<Promise<unknown>>();
  private acceptingClaims = true;

  private readonly onUnlockError: (error: unknown, jobId: number) => void;

  constructor({ knex, tableName = 'agenda_jobs', onUnlockError = () => undefined }: KnexJobRepositoryOptions) {
    this.knex = knex;
    this.onUnlockError = onUnlockError;
    this.tableName = tableName;
    this.dialect = detectDialect(knex);
  }

  private table(db: Db = this.knex): Knex.QueryBuilder {
    return db(this.tableName);
  }

  async connect(): Promise<void> {
    // The schema is owned by the app's migrations, not created on the fly.
    if (!(await this.knex.schema.hasTable(this.tableName))) {
      throw new Error(`Agenda jobs table "${this.tableName}" does not exist; run the database migrations first`);
    }
    this.acceptingClaims = true;
  }

  /**
   * Stops taking new locks, waits for claims under way, and releases every lock this instance
   * holds for a job Agenda has not started. Agenda's drain() leaves such jobs (locked while
   * queued behind a concurrency limit) locked until their lock expires; releasing them here lets
   * another worker run them at once. Locks of running jobs are left alone: Agenda clears them
   * when the job finishes, and releasing them earlier would let a second worker run the job.
   * Everything else keeps working, so jobs still finishing can save their state. Claims resume
   * on connect(), which Agenda calls from its constructor only: after stop() or drain(), start
   * a new Agenda (or call backend.connect()) rather than start() the old one again.
   */
  async releaseClaims(): Promise<void> {
    this.acceptingClaims = false;
    await Promise.allSettled([...this.claimsInFlight]);
    for (const [id, claim] of [...this.claims]) {
      if (claim.running) continue;
      // Only the lock we wrote: if it expired and another worker took the job over, keep theirs.
      await this.table().where({ id, locked_at: claim.lockedAt }).update({ locked_at: null });
      this.claims.delete(id);
    }
  }

  async getJobById(id: string): Promise<JobParameters | null> {
    const key = parseId(id);
    if (key === undefined) return null;
    const rows = asRows(await this.table().where('id', key).select('*'));
    return rows[0] ? rowToJob(rows[0]) : null;
  }

  async queryJobs(options: JobsQueryOptions = {}): Promise<JobsResult> {
    const { name, names, state, id, ids, search, data, includeDisabled = true, sort, skip = 0, limit = 0 } = options;
    const now = Date.now();
    const query = this.table();
    if (name) query.where('name', name);
    else if (names && names.length > 0) query.whereIn('name', names);
    if (id) query.where('id', parseId(id) ?? -1);
    else if (ids && ids.length > 0) query.whereIn('id', parseIds(ids));
    // Unlike the MongoDB backend, where a search replaces the name filter, both apply.
    if (search) {
      const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
      query.whereRaw("LOWER(name) LIKE ? ESCAPE '\\'", [pattern]);
    }
    if (data !== undefined) applyFragments(query, dataFilter(this.dialect, data));
    if (!includeDisabled) query.where('disabled', false);
    if (state === 'paused') query.where('disabled', true);
    else if (state !== undefined) {
      if (!jobStates.has(state)) return { jobs: [], total: 0 };
      query.whereRaw(`(${stateSql}) = ?`, [now, now, state]);
    }

    const total = countOf(await query.clone().count({ count: '*' }));
    const page = query.clone().select('*');
    for (const [column, direction] of sortColumns(sort)) page.orderByRaw(orderTerm(column, direction));
    page.orderBy('id', 'asc');
    if (skip > 0) page.offset(skip);
    if (limit > 0) page.limit(limit);
    const nowDate = new Date(now);
    const jobs: JobWithState[] = asRows(await page).map((row) => {
      const job = rowToJob(row);
      return { ...job, _id: job._id as JobId, state: computeJobState(job, nowDate) };
    });
    return { jobs, total };
  }

  async getJobsOverview(): Promise<JobsOverview[]> {
    const now = Date.now();
    const states = this.table().select('name', 'disabled', this.knex.raw(`(${stateSql}) AS state`, [now, now]));
    const groups: unknown = await this.knex
      .from(states.as('jobs'))
      .select('name', 'state', 'disabled')
      .count({ count: '*' })
      .groupBy('name', 'state', 'disabled');
    const overviews = new Map<string, JobsOverview>();
    for (const group of Array.isArray(groups) ? (groups as Array<{ name: string; state: string; disabled: unknown; count: unknown }>) : []) {
      let overview = overviews.get(group.name);
      if (!overview) {
        overview = { name: group.name, total: 0, running: 0, scheduled: 0, queued: 0, completed: 0, failed: 0, repeating: 0, paused: 0 };
        overviews.set(group.name, overview);
      }
      const count = Number(group.count);
      overview.total += count;
      const state = group.state as Exclude<JobState, 'paused'>;
      overview[state] += count;
      // As in the official backends, a disabled job counts under its state and under paused.
      if (group.disabled === true || group.disabled === 1) overview.paused += count;
    }
    return [...overviews.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async getDistinctJobNames(): Promise<string[]> {
    const rows: unknown = await this.table().distinct('name').orderBy('name');
    return Array.isArray(rows) ? rows.map((row: { name: string }) => row.name) : [];
  }

  async getQueueSize(): Promise<number> {
    return countOf(await this.table().where('next_run_at', '<', Date.now()).count({ count: '*' }));
  }

  /** The rows named by cancel()/disable()/enable() options; undefined when the options name none. */
  private filtered(options: RemoveJobsOptions): Knex.QueryBuilder | undefined {
    const query = this.table();
    let criteria = 0;
    if (options.id) {
      query.where('id', parseId(options.id) ?? -1);
      criteria += 1;
    } else if (options.ids && options.ids.length > 0) {
      query.whereIn('id', parseIds(options.ids));
      criteria += 1;
    }
    if (options.name) {
      query.where('name', options.name);
      criteria += 1;
    } else if (options.names && options.names.length > 0) {
      query.whereIn('name', options.names);
      criteria += 1;
    } else if (options.notNames && options.notNames.length > 0) {
      query.whereNotIn('name', options.notNames);
      criteria += 1;
    }
    if (options.data !== undefined) {
      const fragments = dataFilter(this.dialect, options.data);
      applyFragments(query, fragments);
      criteria += fragments.length;
    }
    // Like the MongoDB backend: no criteria means nothing, never everything (purge() with no
    // definitions must not wipe the table). purgeAllJobs() is the explicit way to do that.
    return criteria > 0 ? query : undefined;
  }

  async removeJobs(options: RemoveJobsOptions): Promise<number> {
    const query = this.filtered(options);
    return query ? Number(await query.del()) : 0;
  }

  // Counted like MongoDB's modifiedCount: jobs that were enabled before, not all that matched.
  async disableJobs(options: RemoveJobsOptions): Promise<number> {
    const query = this.filtered(options);
    return query ? Number(await query.where('disabled', false).update({ disabled: true })) : 0;
  }

  async enableJobs(options: RemoveJobsOptions): Promise<number> {
    const query = this.filtered(options);
    return query ? Number(await query.where('disabled', true).update({ disabled: false })) : 0;
  }

  async purgeAllJobs(): Promise<number> {
    return Number(await this.table().del());
  }

  async saveJobState(job: JobParameters, options: JobRepositoryOptions | undefined): Promise<void> {
    const id = parseId(job._id);
    if (id === undefined) throw new Error('Cannot save job state without job ID');
    const columns: JobStateColumns = stateColumns(job as JobParameters<unknown>, options?.lastModifiedBy);
    const updated = Number(await this.table().where({ id, name: job.name }).update(columns));
    this.trackState(id, columns);
    if (updated !== 1) {
      throw new Error(`job ${id} (name: ${job.name}) cannot be updated in the database, maybe it does not exist anymore?`);
    }
  }

  private trackState(id: number, columns: JobStateColumns): void {
    const claim = this.claims.get(id);
    if (!claim) return;
    if (columns.locked_at === null) {
      this.claims.delete(id);
      return;
    }
    // Job.run() saves lastRunAt (now) while still holding the lock; touch() refreshes lockedAt.
    if (columns.last_run_at !== null && columns.last_run_at >= claim.lockedAt) claim.running = true;
    claim.lockedAt = columns.locked_at;
  }

  async unlockJob(job: JobParameters): Promise<void> {
    const id = parseId(job._id);
    if (id === undefined) return;
    // As in the MongoDB backend, a job whose nextRunAt is null is being processed: keep its lock.
    const query = this.table().where('id', id).whereNotNull('next_run_at');
    const claim = this.claims.get(id);
    if (claim) query.where('locked_at', claim.lockedAt);
    try {
      await query.update({ locked_at: null });
    } catch (error) {
      this.onUnlockError(error, id);
    }
    this.claims.delete(id);
  }

  async unlockJobs(jobIds: (JobId | string)[]): Promise<void> {
    const ids = parseIds(jobIds);
    if (ids.length === 0) return;
    // Called by agenda.stop() with the jobs it locked but did not start. Where we know the lock
    // value we wrote, only that lock is cleared, never one another worker took over since.
    const ours = ids.filter((id) => this.claims.has(id));
    const others = ids.filter((id) => !this.claims.has(id));
    for (const id of ours) {
      await this.table().where({ id, locked_at: this.claims.get(id)?.lockedAt ?? null }).update({ locked_at: null });
      this.claims.delete(id);
    }
    if (others.length > 0) await this.table().whereIn('id', others).update({ locked_at: null });
  }

  private async claim(work: () => Promise<AgendaJobRow | undefined>): Promise<JobParameters | undefined> {
    if (!this.acceptingClaims) return undefined;
    const pending = work();
    this.claimsInFlight.add(pending);
    try {
      const row = await pending;
      if (!row) return undefined;
      const job = rowToJob(row);
      const lockedAt = toMillis(job.lockedAt);
      if (lockedAt !== null) this.claims.set(Number(row.id), { lockedAt, running: false });
      return job;
    } finally {
      this.claimsInFlight.delete(pending);
    }
  }

  async lockJob(job: JobParameters, options: JobRepositoryOptions | undefined): Promise<JobParameters | undefined> {
    const id = parseId(job._id);
    if (id === undefined) return undefined;
    return this.claim(async () => {
      const nextRunAt = toMillis(job.nextRunAt);
      // One conditional UPDATE: of two workers racing for the row, the second matches nothing.
      const query = this.table().where({ id, name: job.name, disabled: false }).whereNull('locked_at');
      if (nextRunAt === null) query.whereNull('next_run_at');
      else query.where('next_run_at', nextRunAt);
      const rows = asRows(await query.update({ locked_at: Date.now(), last_modified_by: options?.lastModifiedBy ?? null }).returning('*'));
      return rows[0];
    });
  }

  async getNextJobToRun(
    jobName: string,
    nextScanAt: Date,
    lockDeadline: Date,
    now: Date | undefined,
    options: JobRepositoryOptions | undefined,
  ): Promise<JobParameters | undefined> {
    const scanUntil = nextScanAt.getTime();
    const deadline = lockDeadline.getTime();
    const lockedAt = (now ?? new Date()).getTime();
    // Due and unlocked, or locked by a worker that has not touched it within its lock lifetime.
    const claimable = (query: Knex.QueryBuilder): Knex.QueryBuilder =>
      query
        .where('name', jobName)
        .where('disabled', false)
        .where((either) => {
          either.where((due) => due.whereNull('locked_at').where('next_run_at', '<=', scanUntil)).orWhere('locked_at', '<=', deadline);
        });
    return this.claim(async () => {
      const next = claimable(this.table().select('id'))
        // MongoDB's order: earliest first, then highest priority; the id makes ties
        // first-in, first-out.
        .orderByRaw(orderTerm('next_run_at', 'asc'))
        .orderBy('priority', 'desc')
        .orderBy('id', 'asc')
        .limit(1);
      // PostgreSQL: concurrent workers skip a row another one is claiming instead of waiting for
      // it and then finding it taken. SQLite runs the statement under the database write lock.
      if (this.dialect === 'postgres') next.forUpdate().skipLocked();
      // The outer WHERE repeats the conditions so the UPDATE itself is the atomic check.
      const update = claimable(this.table().where('id', next));
      const rows = asRows(await update.update({ locked_at: lockedAt, last_modified_by: options?.lastModifiedBy ?? null }).returning('*'));
      return rows[0];
    });
  }

  /**
   * Runs `work` in a transaction that no other save of a job with the same name can interleave
   * with, so a read-then-write (unique jobs, debounce) cannot insert duplicates.
   */
  private async serialized<T>(jobName: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.knex.transaction(async (trx) => {
      if (this.dialect === 'postgres') {
        await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`${this.tableName}:${jobName}`]);
      } else {
        // SQLite's BEGIN is deferred; a write statement takes the database write lock now,
        // before the read, so another connection cannot write in between.
        await trx.raw('UPDATE ?? SET id = id WHERE 0 = 1', [this.tableName]);
      }
      return work(trx);
    });
  }

  async saveJob<DATA = unknown>(job: JobParameters<DATA>, options: JobRepositoryOptions | undefined): Promise<JobParameters<DATA>> {
    const lastModifiedBy = options?.lastModifiedBy;
    const params = job as JobParameters<unknown>;
    const definition = definitionColumns(params, lastModifiedBy);
    // Decided here (the MongoDB backend resets it): `disabled` is only written when the job says
    // so, so every() at worker start-up does not re-enable a recurring job an admin disabled.
    const disabled = job.disabled === undefined ? {} : { disabled: job.disabled === true };
    // The lock and run bookkeeping belongs to the job processor (saveJobState); Job.save()
    // leaves those fields out, and updates here never touch them. A new row takes what it is given.
    const insertValues = { ...stateColumns(params, lastModifiedBy), ...definition, disabled: job.disabled === true };

    if (job._id !== undefined) {
      const id = parseId(job._id);
      if (id === undefined) return job;
      const rows = asRows(await this.table().where({ id, name: job.name }).update({ ...definition, ...disabled }).returning('*'));
      // Removed meanwhile: like the MongoDB backend, hand back what we were given.
      return rows[0] ? rowToJob<DATA>(rows[0]) : job;
    }

    if (definition.type === 'single') return rowToJob<DATA>(await this.upsertSingle(insertValues, definition, disabled));

    if (job.unique) {
      const unique = job.unique;
      const row = await this.serialized(job.name, (trx) => this.upsertUnique(trx, params, unique, insertValues, definition, disabled));
      return rowToJob<DATA>(row);
    }

    return rowToJob<DATA>(firstRow(asRows(await this.table().insert(insertValues).returning('*')), 'insert'));
  }

  /** every(): one row per name, kept unique by the partial unique index on (name) WHERE type = 'single'. */
  private async upsertSingle(
    insertValues: Record<string, Knex.Value>,
    definition: ReturnType<typeof definitionColumns>,
    disabled: { disabled?: boolean },
  ): Promise<AgendaJobRow> {
    const columns = Object.keys(insertValues);
    const updated = Object.keys({ ...definition, ...disabled }).filter((column) => column !== 'name' && column !== 'next_run_at');
    // As in the official backends: a nextRunAt that is already due (every() without
    // skipImmediate computes "now") must not pull an existing schedule forward on each start-up.
    const protectNextRunAt = definition.next_run_at !== null && definition.next_run_at <= Date.now();
    const nextRunAtSql = protectNextRunAt ? 'COALESCE(??.??, excluded.??)' : 'excluded.??';
    const nextRunAtBindings = protectNextRunAt ? [this.tableName, 'next_run_at', 'next_run_at'] : ['next_run_at'];
    const sql =
      `INSERT INTO ?? (${columns.map(() => '??').join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ` +
      `ON CONFLICT (name) WHERE type = 'single' DO UPDATE SET ` +
      `${updated.map(() => '?? = excluded.??').join(', ')}, ?? = ${nextRunAtSql} RETURNING *`;
    const bindings: Knex.RawBinding[] = [
      this.tableName,
      ...columns,
      ...columns.map((column) => insertValues[column] ?? null),
      ...updated.flatMap((column) => [column, column]),
      'next_run_at',
      ...nextRunAtBindings,
    ];
    return firstRow(rawRows(await this.knex.raw(sql, bindings)), 'upsert of a single job');
  }

  /** unique(): update the matching job or insert one; with debounce, move its nextRunAt. */
  private async upsertUnique(
    trx: Knex.Transaction,
    job: JobParameters<unknown>,
    unique: Record<string, unknown>,
    insertValues: Record<string, Knex.Value>,
    definition: ReturnType<typeof definitionColumns>,
    disabled: { disabled?: boolean },
  ): Promise<AgendaJobRow> {
    const debounce = job.uniqueOpts?.debounce;
    const now = Date.now();
    const match = applyFragments(this.table(trx).where('name', job.name), uniqueFilter(this.dialect, unique));
    const existing = asRows(await match.select('*').orderBy('id', 'asc').limit(1))[0];

    if (existing) {
      if (job.uniqueOpts?.insertOnly && !debounce) return existing;
      const values: Record<string, Knex.Value> = { ...definition, ...disabled };
      if (debounce) {
        const startedAt = toMillis(rowToJob(existing).debounceStartedAt) ?? now;
        if (debounce.strategy === 'leading') {
          // Leading: the job runs on its first schedule; later saves only update the data.
          values.next_run_at = existing.next_run_at === null ? null : Number(existing.next_run_at);
          values.debounce_started_at = startedAt;
        } else if (debounce.maxWait && now - startedAt >= debounce.maxWait) {
          // Trailing, waited long enough: run now and start a new window on the next save.
          values.next_run_at = now;
          values.debounce_started_at = null;
        } else {
          values.next_run_at = now + debounce.delay;
          values.debounce_started_at = startedAt;
        }
      }
      const rows = asRows(await this.table(trx).where('id', existing.id).update(values).returning('*'));
      return firstRow(rows, 'update of a unique job');
    }

    const values = { ...insertValues };
    if (debounce) {
      values.debounce_started_at = now;
      if (debounce.strategy !== 'leading') values.next_run_at = now + debounce.delay;
    }
    return firstRow(asRows(await this.table(trx).insert(values).returning('*')), 'insert of a unique job');
  }
}
