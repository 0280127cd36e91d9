// The login sessions of an account, as the web's session store keeps them (table `sessions`, one
// row per session, the account id inside its JSON `sess`). A password change ends the account's
// other sessions, so whoever got hold of one of them is logged out by it.
import type { Knex } from 'knex';

export const SESSIONS_TABLE = 'sessions';

/**
 * Deletes the stored sessions of an account, all but `keepSessionId` (the session the change was
 * made in). Returns how many ended. Web processes may still serve an ended session from memory
 * for up to 2 seconds (src/web/middleware/session-store.ts).
 */
export async function endSessionsOf(db: Knex | Knex.Transaction, accountId: number, keepSessionId?: string): Promise<number> {
  const ofAccount = db.client.config.client === 'pg' ? `CAST(sess ->> 'accountId' AS bigint) = ?` : `json_extract(sess, '$.accountId') = ?`;
  let query = db(SESSIONS_TABLE).whereRaw(ofAccount, [accountId]);
  if (keepSessionId !== undefined) query = query.whereNot('sid', keepSessionId);
  return query.delete();
}
