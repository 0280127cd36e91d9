// WHERE clauses that need different SQL on SQLite and PostgreSQL: matching inside the JSON text
// of `data` (filters by data and `unique()` keys) and Agenda's computed job state.
import type { Knex } from 'knex';
import { serializeInterval, toMillis } from './job-row.js';

export type Dialect = 'sqlite' | 'postgres';

export function detectDialect(knex: Knex): Dialect {
  const client: unknown = knex.client;
  const dialect = typeof client === 'object' && client !== null && 'dialect' in client ? client.dialect : undefined;
  if (dialect === 'postgresql') return 'postgres';
  if (dialect === 'sqlite3' || dialect === 'better-sqlite3') return 'sqlite';
  throw new Error(`The Agenda Knex backend supports SQLite and PostgreSQL, not ${String(dialect)}`);
}

interface SqlFragment {
  sql: string;
  bindings: Knex.RawBinding[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Values are compared in their JSON form, which is how they were stored.
function jsonValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

/** `data` at `path` equals `value` (a missing key matches null, as in MongoDB). */
function jsonPathEquals(dialect: Dialect, path: string[], rawValue: unknown): SqlFragment {
  const value = jsonValue(rawValue);
  if (dialect === 'postgres') {
    const pathSql = `ARRAY[${path.map(() => '?').join(', ')}]::text[]`;
    const extracted = `(CAST(data AS jsonb) #> ${pathSql})`;
    if (value === null || value === undefined) {
      return { sql: `COALESCE(${extracted}, 'null'::jsonb) = 'null'::jsonb`, bindings: [...path] };
    }
    return { sql: `${extracted} = CAST(? AS jsonb)`, bindings: [...path, JSON.stringify(value)] };
  }
  for (const key of path) {
    if (key.includes('"')) throw new Error(`data keys with double quotes cannot be matched: ${key}`);
  }
  const jsonPath = '$' + path.map((key) => `."${key}"`).join('');
  if (value === null || value === undefined) return { sql: 'json_extract(data, ?) IS NULL', bindings: [jsonPath] };
  // json_type keeps types apart ('1' must not match 1, true must not match 1).
  if (typeof value === 'boolean') return { sql: 'json_type(data, ?) = ?', bindings: [jsonPath, value ? 'true' : 'false'] };
  if (typeof value === 'number') {
    return { sql: "json_type(data, ?) IN ('integer', 'real') AND json_extract(data, ?) = ?", bindings: [jsonPath, jsonPath, value] };
  }
  if (typeof value === 'string') {
    return { sql: "json_type(data, ?) = 'text' AND json_extract(data, ?) = ?", bindings: [jsonPath, jsonPath, value] };
  }
  return {
    sql: "json_type(data, ?) IN ('array', 'object') AND json_extract(data, ?) = json(?)",
    bindings: [jsonPath, jsonPath, JSON.stringify(value)],
  };
}

/** The whole of `data` equals `value`. */
function dataEquals(dialect: Dialect, rawValue: unknown): SqlFragment {
  const value = jsonValue(rawValue);
  if (value === null || value === undefined) return { sql: "(data IS NULL OR data = 'null')", bindings: [] };
  if (dialect === 'postgres') return { sql: 'CAST(data AS jsonb) = CAST(? AS jsonb)', bindings: [JSON.stringify(value)] };
  return { sql: 'data = ?', bindings: [JSON.stringify(value)] };
}

// Like the MongoDB backend: nested plain objects become paths, so a filter matches jobs whose
// data contains those values (other keys may exist); arrays and scalars must be equal.
function flatten(data: Record<string, unknown>, prefix: string[] = []): Array<[string[], unknown]> {
  const leaves: Array<[string[], unknown]> = [];
  for (const [key, value] of Object.entries(data)) {
    const path = [...prefix, key];
    if (isPlainObject(value)) leaves.push(...flatten(value, path));
    else leaves.push([path, value]);
  }
  return leaves;
}

/** Conditions for a `data` filter of removeJobs/disableJobs/enableJobs/queryJobs (empty: no condition). */
export function dataFilter(dialect: Dialect, data: unknown): SqlFragment[] {
  if (isPlainObject(data)) return flatten(data).map(([path, value]) => jsonPathEquals(dialect, path, value));
  return [dataEquals(dialect, data)];
}

// The top-level fields a unique() key may name, with the column and the stored form of the value.
const uniqueColumns: Record<string, { column: string; stored: (value: unknown) => Knex.Value }> = {
  name: { column: 'name', stored: (value) => String(value) },
  type: { column: 'type', stored: (value) => String(value) },
  priority: { column: 'priority', stored: (value) => Number(value) },
  disabled: { column: 'disabled', stored: (value) => value === true },
  fork: { column: 'fork', stored: (value) => value === true },
  nextRunAt: { column: 'next_run_at', stored: (value) => toMillis(value as Date) },
  repeatInterval: { column: 'repeat_interval', stored: (value) => serializeInterval(value as string | number) },
  repeatAt: { column: 'repeat_at', stored: (value) => String(value) },
  repeatTimezone: { column: 'repeat_timezone', stored: (value) => String(value) },
  lastModifiedBy: { column: 'last_modified_by', stored: (value) => String(value) },
};

/**
 * Conditions for a unique() key such as `{ 'data.userId': 7 }`. MongoDB accepts any query here;
 * we support equality on data paths and job fields, and refuse the rest rather than ignore it.
 */
export function uniqueFilter(dialect: Dialect, unique: Record<string, unknown>): SqlFragment[] {
  const fragments: SqlFragment[] = [];
  for (const [key, value] of Object.entries(unique)) {
    if (isPlainObject(value) && Object.keys(value).some((field) => field.startsWith('$'))) {
      throw new Error(`unique(): query operators are not supported by the Knex backend (key "${key}")`);
    }
    if (key === 'data') {
      fragments.push(dataEquals(dialect, value));
    } else if (key.startsWith('data.')) {
      fragments.push(jsonPathEquals(dialect, key.slice('data.'.length).split('.'), value));
    } else {
      const field = uniqueColumns[key];
      if (!field) throw new Error(`unique(): unsupported key "${key}" (use job fields or data.<path>)`);
      const stored = value === null || value === undefined ? null : field.stored(value);
      fragments.push(stored === null ? { sql: `${field.column} IS NULL`, bindings: [] } : { sql: `${field.column} = ?`, bindings: [stored] });
    }
  }
  return fragments;
}

/**
 * Agenda's computeJobState() as SQL, so state filters and the overview run in the database.
 * Keep in step with computeJobState in agenda/dist/types/JobQuery.js. Bindings: [now, now].
 */
export const stateSql = `CASE
  WHEN locked_at IS NOT NULL THEN 'running'
  WHEN failed_at IS NOT NULL AND (last_finished_at IS NULL OR failed_at >= last_finished_at) THEN 'failed'
  WHEN repeat_interval IS NOT NULL THEN 'repeating'
  WHEN next_run_at > ? THEN 'scheduled'
  WHEN next_run_at <= ? THEN 'queued'
  ELSE 'completed'
END`;

export function applyFragments(builder: Knex.QueryBuilder, fragments: SqlFragment[]): Knex.QueryBuilder {
  for (const fragment of fragments) builder.whereRaw(`(${fragment.sql})`, fragment.bindings);
  return builder;
}
