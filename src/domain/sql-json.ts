// Reading many rows as one JSON value: the sqlite3 driver turns each column of each row into a
// JavaScript value on the main thread (about half a microsecond each), where JSON.parse of one
// string is far cheaper; PostgreSQL answers the same queries with parsed JSON.
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

/**
 * `IN <idList>`, or `FROM <idList> alias` as rows of one column, `id`, with one parameter, a JSON
 * array of ids: a thousand ids as one value rather than a thousand parameters to build, bind and
 * parse.
 */
export function idList(db: Db): string {
  return db.client.config.client === 'pg'
    ? '(SELECT CAST(value AS integer) AS id FROM json_array_elements_text(CAST(? AS json)))'
    : '(SELECT value AS id FROM json_each(?))';
}

/** An aggregate turning the selected rows into one JSON array of arrays (optionally ordered), named `list`. */
export function jsonArrayAgg(db: Db, columns: string[], orderBy?: string): string {
  const order = orderBy ? ` ORDER BY ${orderBy}` : '';
  return db.client.config.client === 'pg'
    ? `json_agg(json_build_array(${columns.join(', ')})${order})`
    : `json_group_array(json_array(${columns.join(', ')})${order})`;
}

/** knex.raw answers rows on SQLite and a result with `rows` on PostgreSQL. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** The tuples of a jsonArrayAgg query: SQLite answers JSON text, PostgreSQL parsed JSON (or NULL for no rows). */
export function jsonTuples<T>(result: unknown): T[] {
  const list = rowsOf<{ list: string | T[] | null }>(result)[0]?.list ?? null;
  if (list === null) return [];
  return typeof list === 'string' ? (JSON.parse(list) as T[]) : list;
}
