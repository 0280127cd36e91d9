/** A unique index refused a write (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT UNIQUE). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === '23505' || (e?.code === 'SQLITE_CONSTRAINT' && /UNIQUE/.test(String(e.message))) || /UNIQUE constraint failed/.test(String(e?.message));
}

/** PostgreSQL ended this transaction to break a deadlock (40P01); SQLite's write lock has none. */
export function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '40P01';
}

/**
 * PostgreSQL no longer has a prepared statement as the connection prepared it: it was deallocated
 * (26000, e.g. by a pooler's DISCARD ALL), or a change of the schema changed what it answers
 * (0A000, "cached plan must not change result type").
 */
export function isStalePreparedStatement(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '26000' || code === '0A000';
}
