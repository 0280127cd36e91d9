// Conversion between Agenda's JobParameters and rows of the jobs table.
import { toJobId, type JobParameters } from 'agenda';

/** A row of the jobs table as the drivers return it (see the migration for the schema). */
export interface AgendaJobRow {
  id: number | string;
  name: string;
  priority: number | string;
  type: string;
  next_run_at: Millis;
  locked_at: Millis;
  last_run_at: Millis;
  last_finished_at: Millis;
  failed_at: Millis;
  fail_count: number | string | null;
  fail_reason: string | null;
  repeat_interval: string | null;
  repeat_timezone: string | null;
  repeat_at: string | null;
  data: string | null;
  disabled: boolean | number;
  progress: number | string | null;
  fork: boolean | number | null;
  debounce_started_at: Millis;
  start_date: Millis;
  end_date: Millis;
  skip_days: string | null;
  last_modified_by: string | null;
}

// BIGINT comes back as a number from SQLite and from node-pg when its INT8 parser is configured
// (src/db/knex.ts does), but as a string from a default node-pg; accept both.
type Millis = number | string | null;

/** Columns written by saveJob(): everything the user owns about a job. */
export interface JobDefinitionColumns {
  name: string;
  priority: number;
  type: 'normal' | 'single';
  next_run_at: number | null;
  repeat_interval: string | null;
  repeat_timezone: string | null;
  repeat_at: string | null;
  data: string | null;
  fork: boolean;
  debounce_started_at: number | null;
  start_date: number | null;
  end_date: number | null;
  skip_days: string | null;
  last_modified_by: string | null;
}

/** Columns that belong to the job processor (lock and run bookkeeping), written by saveJobState(). */
export interface JobStateColumns {
  locked_at: number | null;
  next_run_at: number | null;
  last_run_at: number | null;
  last_finished_at: number | null;
  failed_at: number | null;
  fail_count: number | null;
  fail_reason: string | null;
  progress: number | null;
  last_modified_by: string | null;
}

export function toMillis(value: Date | string | number | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const millis = value instanceof Date ? value.getTime() : new Date(value).getTime();
  return Number.isFinite(millis) ? millis : null;
}

function fromMillis(value: Millis): Date | undefined {
  if (value === null || value === undefined) return undefined;
  const millis = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(millis) ? new Date(millis) : undefined;
}

function toNumber(value: number | string | null): number | undefined {
  if (value === null || value === undefined) return undefined;
  const number = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(number) ? number : undefined;
}

// `undefined` data (a job created without data) is kept apart from JSON `null` so both round-trip.
export function serializeData(data: unknown): string | null {
  if (data === undefined) return null;
  return JSON.stringify(data);
}

function parseData(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

// every(5000) stores a number and every('5 minutes') a string; Agenda treats a purely numeric
// string as milliseconds too, so turning a canonical numeric string back into a number is lossless.
export function serializeInterval(interval: string | number | undefined): string | null {
  if (interval === undefined || interval === '' || interval === 0) return null;
  return String(interval);
}

function parseInterval(text: string | null): string | number | undefined {
  if (text === null) return undefined;
  const number = Number(text);
  return text.trim() !== '' && Number.isFinite(number) && String(number) === text ? number : text;
}

function parseSkipDays(text: string | null): number[] | undefined {
  if (text === null) return undefined;
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((day): day is number => typeof day === 'number') : undefined;
}

export function definitionColumns(job: JobParameters<unknown>, lastModifiedBy: string | undefined): JobDefinitionColumns {
  return {
    name: job.name,
    // The column is an INTEGER; Agenda's named priorities are integers already.
    priority: Number.isFinite(job.priority) ? Math.round(job.priority) : 0,
    type: job.type === 'single' ? 'single' : 'normal',
    next_run_at: toMillis(job.nextRunAt),
    repeat_interval: serializeInterval(job.repeatInterval),
    repeat_timezone: job.repeatTimezone ?? null,
    repeat_at: job.repeatAt ?? null,
    data: serializeData(job.data),
    fork: job.fork === true,
    debounce_started_at: toMillis(job.debounceStartedAt),
    start_date: toMillis(job.startDate),
    end_date: toMillis(job.endDate),
    skip_days: job.skipDays ? JSON.stringify(job.skipDays) : null,
    last_modified_by: lastModifiedBy ?? null,
  };
}

export function stateColumns(job: JobParameters<unknown>, lastModifiedBy: string | undefined): JobStateColumns {
  return {
    locked_at: toMillis(job.lockedAt),
    next_run_at: toMillis(job.nextRunAt),
    last_run_at: toMillis(job.lastRunAt),
    last_finished_at: toMillis(job.lastFinishedAt),
    failed_at: toMillis(job.failedAt),
    fail_count: job.failCount ?? null,
    fail_reason: job.failReason ?? null,
    progress: job.progress ?? null,
    last_modified_by: lastModifiedBy ?? null,
  };
}

export function rowToJob<DATA = unknown>(row: AgendaJobRow): JobParameters<DATA> {
  return {
    _id: toJobId(String(row.id)),
    name: row.name,
    priority: toNumber(row.priority) ?? 0,
    nextRunAt: fromMillis(row.next_run_at) ?? null,
    type: row.type === 'single' ? 'single' : 'normal',
    lockedAt: fromMillis(row.locked_at),
    lastRunAt: fromMillis(row.last_run_at),
    lastFinishedAt: fromMillis(row.last_finished_at),
    failedAt: fromMillis(row.failed_at),
    failCount: toNumber(row.fail_count),
    failReason: row.fail_reason ?? undefined,
    repeatInterval: parseInterval(row.repeat_interval),
    repeatTimezone: row.repeat_timezone ?? undefined,
    repeatAt: row.repeat_at ?? undefined,
    data: parseData(row.data) as DATA,
    // SQLite returns booleans as 0/1.
    disabled: Boolean(row.disabled),
    progress: toNumber(row.progress),
    fork: row.fork === null ? undefined : Boolean(row.fork),
    debounceStartedAt: fromMillis(row.debounce_started_at),
    startDate: fromMillis(row.start_date),
    endDate: fromMillis(row.end_date),
    skipDays: parseSkipDays(row.skip_days),
    lastModifiedBy: row.last_modified_by ?? undefined,
  };
}

/** Narrows what a Knex query returned (typed `any`) to rows of the jobs table. */
export function asRows(result: unknown): AgendaJobRow[] {
  if (!Array.isArray(result)) throw new TypeError('expected the jobs query to return rows');
  return result as AgendaJobRow[];
}
