// Rate limits shared by every web process: counters live in the SQL database (rate-limiter-flexible
// with its Knex-backed SQLite / PostgreSQL stores).
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError } from '../../domain/errors.js';

const TABLE = 'rate_limits';

function limiter(knex: Knex, keyPrefix: string, points: number, durationSeconds: number): RateLimiterAbstract {
  const options = { storeClient: knex, storeType: 'knex', tableName: TABLE, tableCreated: true, keyPrefix, points, duration: durationSeconds };
  return knex.client.config.client === 'pg' ? new RateLimiterPostgres(options) : new RateLimiterSQLite(options);
}

export interface RateLimits {
  /** Throws RateLimitedError if a login for this handle from this IP is currently blocked. */
  checkLogin(handle: string, ip: string): Promise<void>;
  loginFailed(handle: string, ip: string): Promise<void>;
  loginSucceeded(handle: string, ip: string): Promise<void>;
  /** Counts a wrong token; throws RateLimitedError once too many were tried. */
  checkToken(requestId: string, ip: string): Promise<void>;
  tokenFailed(requestId: string, ip: string): Promise<void>;
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
      await ensureAllowed(tokenPerRequest, requestId);
      await ensureAllowed(tokenPerIp, ip);
    },
    async tokenFailed(requestId, ip) {
      await Promise.all([tokenPerRequest.penalty(requestId, 1), tokenPerIp.penalty(ip, 1)]);
    },
    async consumeRequestCreation(accountId) {
      await creations.consume(String(accountId)).catch(toError);
    },
    async consumeResend(accountId) {
      await resends.consume(String(accountId)).catch(toError);
    },
  };
}
