// Rate limits shared by every web process: counters live in the SQL database (rate-limiter-flexible
// with its Knex-backed SQLite / PostgreSQL stores).
import ipaddr from 'ipaddr.js';
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

/** A login attempt that was let through, and the counters it was counted on. */
export interface LoginAttempt {
  handle: string;
  client: string;
  /** Set when the attempt counted on a trusted device's counter (and on no other). */
  device?: string;
}

export interface RateLimits {
  /**
   * Counts a login attempt before its password is checked, so that parallel attempts cannot all
   * pass a check made before any of them failed. Throws RateLimitedError when this handle from
   * this client, this handle from anywhere, or this client for any handle has tried too often.
   *
   * `device` is the id of a trusted device: the browser that last logged in to this handle,
   * showing its device cookie (device-cookie.ts). Its attempts count on its own counter only, so
   * that attempts from elsewhere, which may lock the handle out everywhere else, do not lock out
   * its owner, nor does a busy shared address (NAT). Once that counter is used up, and until its
   * 15 minutes are over, the device is trusted no more: its attempts count like anyone's.
   */
  beginLogin(handle: string, ip: string, device?: string): Promise<LoginAttempt>;
  /** A correct password: the attempt no longer counts against what it was counted on. */
  loginSucceeded(attempt: LoginAttempt): Promise<void>;
  /**
   * Counts a check of a logged-in account's password (changing the e-mail address or the
   * password) before it is made; throws RateLimitedError once there were too many. A session
   * alone must not allow guessing the password, nor an argon2 hash per request without end.
   */
  beginPasswordCheck(accountId: number): Promise<void>;
  /** The password was right: the check no longer counts. */
  passwordCheckSucceeded(accountId: number): Promise<void>;
  /** Throws RateLimitedError if this account, or this client, has sent too many wrong tokens. */
  checkToken(requestId: number, accountId: number, ip: string): Promise<void>;
  /** Counts a wrong token for this account on this request, and for this client. */
  tokenFailed(requestId: number, accountId: number, ip: string): Promise<void>;
  /** Counts a submission that creates requests / a resend, per account. */
  consumeRequestCreation(accountId: number): Promise<void>;
  consumeResend(accountId: number): Promise<void>;
}

/**
 * The client a counter is kept for: its IPv4 address, or the /64 network of an IPv6 one (one
 * subscriber usually holds a whole /64, and could otherwise take a fresh address per attempt).
 */
export function clientKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts;
  return `${parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

function toError(rejection: unknown): never {
  if (rejection instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
  throw rejection;
}

async function ensureAllowed(limiterInstance: RateLimiterAbstract, key: string): Promise<void> {
  const state = await limiterInstance.get(key);
  if (state && state.remainingPoints <= 0) throw new RateLimitedError(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
}

/** Takes a point from every counter; the longest wait if any of them is past its limit. */
async function consumeAll(counters: [RateLimiterAbstract, string][]): Promise<void> {
  const outcomes = await Promise.allSettled(counters.map(([counter, key]) => counter.consume(key)));
  let waitMs = 0;
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') continue;
    if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
    waitMs = Math.max(waitMs, outcome.reason.msBeforeNext);
  }
  if (outcomes.some((outcome) => outcome.status === 'rejected')) throw new RateLimitedError(Math.max(1, Math.ceil(waitMs / 1000)));
}

export function createRateLimits(knex: Knex): RateLimits {
  const loginPerHandleIp = limiter(knex, 'login_ip', 10, 15 * 60);
  const loginPerHandle = limiter(knex, 'login_handle', 100, 60 * 60);
  // Failures of one client over every handle: a guess or two at each of many customer IDs.
  const loginPerClient = limiter(knex, 'login_client', 50, 60 * 60);
  // A trusted device (its cookie is bound to one handle): as many tries as one client of a handle.
  const loginPerDevice = limiter(knex, 'login_device', 10, 15 * 60);
  const passwordChecks = limiter(knex, 'password_check', 10, 15 * 60);
  const tokenPerParty = limiter(knex, 'token_request', 10, 60 * 60);
  const tokenPerIp = limiter(knex, 'token_ip', 30, 60 * 60);
  const creations = limiter(knex, 'request_create', 30, 60 * 60);
  const resends = limiter(knex, 'request_resend', 10, 60 * 60);

  return {
    async beginLogin(handle, ip, device) {
      const client = clientKey(ip);
      if (device !== undefined) {
        const trusted = await loginPerDevice.consume(device).then(
          () => true,
          (rejection: unknown) => {
            if (rejection instanceof RateLimiterRes) return false;
            throw rejection;
          },
        );
        if (trusted) return { handle, client, device };
      }
      await consumeAll([
        [loginPerHandleIp, `${handle}|${client}`],
        [loginPerClient, client],
      ]);
      // Only an attempt this client was allowed counts against the handle everywhere: a refused
      // consume still adds its point, and one client could otherwise lock the owner out alone.
      await loginPerHandle.consume(handle).catch(toError);
      return { handle, client };
    },
    async loginSucceeded({ handle, client, device }) {
      if (device !== undefined) {
        await loginPerDevice.delete(device);
        return;
      }
      await Promise.all([loginPerHandleIp.delete(`${handle}|${client}`), loginPerHandle.reward(handle, 1), loginPerClient.reward(client, 1)]);
    },
    async beginPasswordCheck(accountId) {
      await passwordChecks.consume(String(accountId)).catch(toError);
    },
    async passwordCheckSucceeded(accountId) {
      await passwordChecks.reward(String(accountId), 1);
    },
    async checkToken(requestId, accountId, ip) {
      await ensureAllowed(tokenPerParty, `${requestId}|${accountId}`);
      await ensureAllowed(tokenPerIp, clientKey(ip));
    },
    async tokenFailed(requestId, accountId, ip) {
      await Promise.all([tokenPerParty.penalty(`${requestId}|${accountId}`, 1), tokenPerIp.penalty(clientKey(ip), 1)]);
    },
    async consumeRequestCreation(accountId) {
      await creations.consume(String(accountId)).catch(toError);
    },
    async consumeResend(accountId) {
      await resends.consume(String(accountId)).catch(toError);
    },
  };
}
