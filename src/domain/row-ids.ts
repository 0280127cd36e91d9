/**
 * The largest id a table's row can have: every id column is a 32-bit INTEGER (knex `increments`).
 * PostgreSQL refuses a larger number as a parameter ("integer out of range"), so an id from a URL
 * or a command line is checked against it first: too large is simply not found.
 */
export const MAX_ROW_ID = 2_147_483_647;

/** A row id from a URL, a form or a command line; undefined when it cannot be one. */
export function parseRowId(raw: unknown): number | undefined {
  const id = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(id) && id > 0 && id <= MAX_ROW_ID ? id : undefined;
}
