// Rate limits shared by every web process: counters live in the SQL database (rate-limiter-flexible
// with its Knex-backed SQLite / PostgreSQL stores).
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError } from '../../domain/errors.js';

const TABLE = 'rate_limits';

function limiter(knex: Knex, keyPrefix: string, points: number, durationSeconds: number): RateLimiterAbstract {
  const options = { storeClient: knex, storeType: 'knex', tableName: TABLE, tableCreated: true, keyPrefix, points, duration: durationSeconds };
  return knex.client.config.client === 'pg' ? new RateLimiterPostgres(options) : new KnexRateLimiterSQLite(knex, options);
}

/**
 * RateLimiterSQLite (rate-limiter-flexible 11.4) writes a counter in a savepoint on a connection it
 * has already given back to knex's pool (its `_upsertTransaction` returns without awaiting inside
 * try/finally). On SQLite's single connection a transaction of the app that starts meanwhile then
 * fails ("cannot start a transaction within a transaction"), or the app's queries run inside the
 * limiter's savepoint; after a failed write the savepoint is rolled back but never released, which
 * would leave a transaction open on the connection. The write is one INSERT … ON CONFLICT …
 * RETURNING, atomic by itself: here it runs through knex like any other query. `_upsert` is the
 * store's documented extension point (RateLimiterStoreAbstract); the SQL is the library's own.
 */
class KnexRateLimiterSQLite extends RateLimiterSQLite {
  constructor(
    private readonly knex: Knex,
    options: ConstructorParameters<typeof RateLimiterSQLite>[0],
  ) {
    super(options);
  }

  async _upsert(key: string, points: number, msDuration: number, forceExpire = false): Promise<{ points: number; expire: number | null }> {
    const now = Date.now();
    const newExpire = msDuration > 0 ? now + msDuration : null;
    const [sql, bindings] = forceExpire
      ? [`INSERT OR REPLACE INTO ${TABLE} (key, points, expire) VALUES (?, ?, ?) RETURNING points, expire`, [key, points, newExpire]]
      : [
          `INSERT INTO ${TABLE} (key, points, expire) VALUES (?, ?, ?)
             ON CONFLICT(key) DO UPDATE SET
               points = CASE WHEN expire IS NULL OR expire > ? THEN points + excluded.points ELSE excluded.points END,
               expire = CASE WHEN expire IS NULL OR expire > ? THEN expire ELSE excluded.expire END
             RETURNING points, expire`,
          [key, points, newExpire, now, now],
        ];
    const [row] = (await this.knex.raw(sql, bindings)) as { points: number; expire: number | null }[];
    if (!row) throw new Error(`rate limit counter ${key} was not written`);
    return row;
  }
}

export interface RateLimits {
  /** Throws RateLimitedError if a login for this handle from this IP is currently blocked. */
  checkLogin(handle: string, ip: string): Promise<void>;
  loginFailed(handle: string, ip: string): Promise<void>;
  loginSucceeded(handle: string, ip: string): Promise<void>;
  /** Counts a wrong token; throws RateLimitedError once too many were tried. */
  checkToken(requestId: number, ip: string): Promise<void>;
  tokenFailed(requestId: number, ip: string): Promise<void>;
  /** Counts a submission that creates requests / a resend, per account. */
  consumeRequestCreation(accountId: number): Promise<void>;
  consumeResend(accountId: number): Promise<void>;
}

function toError(rejection: unknown): never {
  if (rejection instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
  throw rejection;
}

async function ensureAllowed(limiterInstance: RateLimiterAbstract, key: string): Promise<void> {
  const state = await limiterInstance.get(key);
  if (state && state.remainingPoints <= 0) throw new RateLimitedError(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
}

export function createRateLimits(knex: Knex): RateLimits {
  const loginPerHandleIp = limiter(knex, 'login_ip', 10, 15 * 60);
  const loginPerHandle = limiter(knex, 'login_handle', 100, 60 * 60);
  const tokenPerRequest = limiter(knex, 'token_request', 10, 60 * 60);
  const tokenPerIp = limiter(knex, 'token_ip', 30, 60 * 60);
  const creations = limiter(knex, 'request_create', 30, 60 * 60);
  const resends = limiter(knex, 'request_resend', 10, 60 * 60);

  return {
    async checkLogin(handle, ip) {
      await ensureAllowed(loginPerHandleIp, `${handle}|${ip}`);
      await ensureAllowed(loginPerHandle, handle);
    },
    async loginFailed(handle, ip) {
      await Promise.all([loginPerHandleIp.penalty(`${handle}|${ip}`, 1), loginPerHandle.penalty(handle, 1)]);
    },
    async loginSucceeded(handle, ip) {
      await loginPerHandleIp.delete(`${handle}|${ip}`);
    },
    async checkToken(requestId, ip) {
      await ensureAllowed(tokenPerRequest, String(requestId));
      await ensureAllowed(tokenPerIp, ip);
    },
    async tokenFailed(requestId, ip) {
      await Promise.all([tokenPerRequest.penalty(String(requestId), 1), tokenPerIp.penalty(ip, 1)]);
    },
    async consumeRequestCreation(accountId) {
      await creations.consume(String(accountId)).catch(toError);
    },
    async consumeResend(accountId) {
      await resends.consume(String(accountId)).catch(toError);
    },
  };
}
