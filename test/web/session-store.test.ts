// The memory cache in front of the SQL session store: reads within `readMs` and touches within
// `touchIntervalMs` stay in memory, the database stays the source of truth, and a session ended
// in this process is gone at once.
import assert from 'node:assert/strict';
import type { SessionData } from 'express-session';
import { CachedKnexSessionStore } from '../../src/web/middleware/session-store.js';
import { SESSIONS_TABLE } from '../../src/domain/sessions.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

const MINUTE = 60_000;

function sessionData(accountId: number, expires: number): SessionData {
  return { cookie: { originalMaxAge: 30 * MINUTE, expires: new Date(expires), httpOnly: true, path: '/' }, accountId } as unknown as SessionData;
}

function promised<T>(call: (callback: (error: unknown, value?: T) => void) => unknown): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    void call((error, value) => (error ? reject(error as Error) : resolve(value)));
  });
}

describe('web: cached session store', () => {
  let db: TestDatabase;
  let clock: number;
  let queries: string[];
  const now = () => clock;

  before(async () => {
    db = await createTestDatabase();
    db.knex.on('query', (query: { sql: string }) => queries.push(query.sql));
  });
  after(() => db.destroy());
  beforeEach(async () => {
    clock = Date.now();
    queries = [];
    await db.knex(SESSIONS_TABLE).del();
  });

  async function storedExpiry(sid: string): Promise<number> {
    const row = (await db.knex(SESSIONS_TABLE).where({ sid }).first('expired')) as { expired: string | Date };
    return new Date(row.expired).getTime();
  }

  it('serves a read from memory within readMs, then reads the database again', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 2000, touchIntervalMs: MINUTE }, now);
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    await db.knex(SESSIONS_TABLE).where({ sid: 's1' }).update({ sess: JSON.stringify(sessionData(8, clock + 30 * MINUTE)) });
    queries = [];

    const cached = await promised<SessionData | null>((cb) => store.get('s1', cb));
    assert.equal((cached as unknown as { accountId: number }).accountId, 7);
    assert.deepEqual(queries, [], 'no query within readMs');

    clock += 2000;
    const fresh = await promised<SessionData | null>((cb) => store.get('s1', cb));
    assert.equal((fresh as unknown as { accountId: number }).accountId, 8, 'the database wins after readMs');
    assert.equal(queries.length, 1);
  });

  it('gives every read its own copy to change', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 2000, touchIntervalMs: MINUTE }, now);
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    const first = (await promised<SessionData | null>((cb) => store.get('s1', cb))) as unknown as { accountId: number };
    first.accountId = 99;
    const second = (await promised<SessionData | null>((cb) => store.get('s1', cb))) as unknown as { accountId: number };
    assert.equal(second.accountId, 7);
  });

  it('forgets a destroyed session at once', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 60_000, touchIntervalMs: MINUTE }, now);
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    await promised((cb) => store.destroy('s1', cb));
    assert.equal(await promised((cb) => store.get('s1', cb)), null);
    assert.equal(store.cachedCount, 0);
  });

  it('does not serve a remembered session past its idle expiry', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 60 * MINUTE, touchIntervalMs: MINUTE }, now);
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    clock += 31 * MINUTE;
    // The stored row is expired by then too (the store compares with the real time, so age it).
    await db.knex(SESSIONS_TABLE).where({ sid: 's1' }).update({ expired: new Date(Date.now() - 1000).toISOString() });
    assert.equal(await promised((cb) => store.get('s1', cb)), null);
  });

  it('writes the first touch after a read, then at most one per touchIntervalMs', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 2000, touchIntervalMs: MINUTE }, now);
    // Stored by another process: nothing says when its expiry was last pushed forward.
    const other = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 0, touchIntervalMs: 0 }, now);
    await promised((cb) => other.set('s1', sessionData(7, clock + 10 * MINUTE), cb));
    await promised((cb) => store.get('s1', cb));

    await promised((cb) => store.touch('s1', sessionData(7, clock + 30 * MINUTE), cb));
    assert.equal(await storedExpiry('s1'), clock + 30 * MINUTE, 'first touch is written');

    clock += 30_000;
    await promised((cb) => store.touch('s1', sessionData(7, clock + 30 * MINUTE), cb));
    assert.equal(await storedExpiry('s1'), clock - 30_000 + 30 * MINUTE, 'a touch within the interval stays in memory');

    clock += 30_000;
    await promised((cb) => store.touch('s1', sessionData(7, clock + 30 * MINUTE), cb));
    assert.equal(await storedExpiry('s1'), clock + 30 * MINUTE, 'the next one after the interval is written');
  });

  it('does not cache what a read racing a logout found, nor save the logged-out session again', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 60_000, touchIntervalMs: MINUTE }, now);
    const other = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 0, touchIntervalMs: 0 }, now);
    await promised((cb) => other.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    // A request's read is in flight when the logout destroys the session.
    const racing = promised<SessionData | null>((cb) => store.get('s1', cb));
    await promised((cb) => store.destroy('s1', cb));
    await racing;
    assert.equal(await promised((cb) => store.get('s1', cb)), null, 'the logged-out session is not served from memory');
    // That request ends by saving its session: the row must not come back.
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    assert.equal(await db.knex(SESSIONS_TABLE).where({ sid: 's1' }).first(), undefined);
    assert.equal(await promised((cb) => store.get('s1', cb)), null);
  });

  it('does not let a read that started before a save replace the saved session in memory', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 60_000, touchIntervalMs: MINUTE }, now);
    const other = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 0, touchIntervalMs: 0 }, now);
    await promised((cb) => other.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    const racing = promised<SessionData | null>((cb) => store.get('s1', cb));
    await promised((cb) => store.set('s1', sessionData(8, clock + 30 * MINUTE), cb));
    await racing;
    const latest = (await promised<SessionData | null>((cb) => store.get('s1', cb))) as unknown as { accountId: number };
    assert.equal(latest.accountId, 8);
  });

  it('reads and writes the database every time with both settings at 0', async () => {
    const store = new CachedKnexSessionStore(db.knex, SESSIONS_TABLE, { readMs: 0, touchIntervalMs: 0 }, now);
    await promised((cb) => store.set('s1', sessionData(7, clock + 30 * MINUTE), cb));
    queries = [];
    await promised((cb) => store.get('s1', cb));
    await promised((cb) => store.get('s1', cb));
    await promised((cb) => store.touch('s1', sessionData(7, clock + 31 * MINUTE), cb));
    assert.equal(queries.length, 3);
    assert.equal(store.cachedCount, 0);
  });
});
