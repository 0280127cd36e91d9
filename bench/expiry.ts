// expiry: 100,000 stale pending requests (times BENCH_SCALE), inserted directly (change_requests,
// request_roles, request_parties, their 'created' events), expired by the worker's sweep
// (createDomain(...).requests.expireDue()), which writes their notification mails to the outbox.
// Reports the sweep's duration and this process' peak RSS while it runs.
//
//   BENCH_DB_URL=… tsx bench/expiry.ts   (run.ts does this, on the seeded database; without it, a
//                                         fresh database with just enough accounts and services)
import type { Knex } from 'knex';
import { migrateLatest } from '../src/db/knex.js';
import { createDomain } from '../src/domain/index.js';
import { createBenchDatabase, existingDatabase, exited, progress, result, rssMb, rssSampler, scaled, spawnTs, runIfMain, threadCpuSeconds } from './lib.js';
import { seedLarge, insertPendingRequests, type PendingRequestInput } from './seed-large.js';

const DAY = 24 * 3600_000;

/** Requests on `count` distinct services, stale by a day or more; returns how many outbox rows their expiry must write. */
async function insertStaleRequests(knex: Knex, count: number): Promise<{ mails: number; firstId: number }> {
  const now = Date.now();
  const accounts = Number(((await knex('accounts').max({ m: 'id' }).first()) as { m: number | string }).m);
  // Services that have no active request on their billing role yet (the seed's requests are on tech).
  const services = (await knex('services')
    .whereNotExists((q) => q.select(knex.raw('1')).from('request_roles as rr').whereRaw('rr.service_id = services.id').where('rr.role', 'billing').where('rr.active', true))
    .orderBy('id')
    .limit(count)
    .select('id', 'admin_id', 'tech_id', 'billing_id')) as { id: number; admin_id: number; tech_id: number; billing_id: number }[];
  if (services.length < count) throw new Error(`only ${services.length} services available for ${count} requests`);
  let mails = 0;
  const requests: PendingRequestInput[] = services.map((service, i) => {
    // Mostly an administrator naming a new billing contact (parties: admin + newcomer, the old
    // billing contact informed); every fifth one a billing contact replacing itself.
    const selfReplace = i % 5 === 4;
    const requesterId = selfReplace ? service.billing_id : service.admin_id;
    let toId = 2 + ((i * 7919) % (accounts - 1));
    if (toId === service.billing_id) toId = toId === accounts ? 2 : toId + 1;
    mails += new Set([requesterId, service.billing_id, toId]).size;
    return {
      serviceId: service.id,
      requesterId,
      fromId: service.billing_id,
      toId,
      roles: ['billing'],
      createdAt: now - 8 * DAY - i,
      expiresAt: now - DAY - i,
    };
  });
  let firstId = 0;
  await knex.transaction(async (trx) => {
    const ids = await insertPendingRequests(trx, requests, { hashTokens: false });
    firstId = ids[0] ?? 0;
  });
  return { mails, firstId };
}

export interface PreparedExpiry {
  requests: number;
  mails: number;
}

/** Inserts the stale requests and refreshes the planner's statistics. */
export async function prepareExpiry(knex: Knex, count: number = scaled(100_000, 100)): Promise<PreparedExpiry> {
  progress(`expiry: inserting ${count} stale pending requests`);
  const { mails } = await insertStaleRequests(knex, count);
  if (knex.client.config.client === 'pg') await knex.raw('VACUUM ANALYZE change_requests, request_roles, request_parties, request_events, outbox');
  else await knex.raw('ANALYZE');
  return { requests: count, mails };
}

async function count(query: Knex.QueryBuilder): Promise<number> {
  return Number(((await query.count({ n: '*' }).first()) as { n: number | string }).n);
}

/**
 * The sweep itself, meant to run in a process of its own (see main) so that the RSS it reports is
 * the sweep's: the process holds nothing but the domain and its database connection.
 */
export async function sweepExpiry(knex: Knex, prepared: PreparedExpiry): Promise<void> {
  const outboxBefore = await count(knex('outbox'));
  // The requests are inserted with their own expiry; the sweep reads no time to live.
  const domain = createDomain({ knex, handleSuffix: 'ovh', requestTtlMs: 7 * DAY });
  const rssBefore = rssMb();
  const sampler = rssSampler(process.pid, 20);
  progress(`expiry: sweeping ${prepared.requests} requests (RSS before ${rssBefore.toFixed(0)} MB)`);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const mainBefore = threadCpuSeconds();
  const expired = await domain.requests.expireDue();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // The main thread's share (JavaScript, and the sqlite3 driver's hand-offs); the rest of cpu_s is
  // SQLite itself on the driver's thread pool, and V8's helper threads (garbage collection).
  const mainThread = threadCpuSeconds() - mainBefore;
  const peak = sampler.stop();

  // The sweep did what it must: every request expired, roles released, tokens dead, mails written.
  const mails = (await count(knex('outbox'))) - outboxBefore;
  const stillPending = await count(knex('change_requests').where('state', 'pending').where('expires_at', '<=', Date.now()));
  const activeRoles = await count(knex('request_roles as rr').join('change_requests as r', 'r.id', 'rr.request_id').where('r.state', 'expired').where('rr.active', true));
  const liveTokens = await count(knex('request_parties as p').join('change_requests as r', 'r.id', 'p.request_id').where('r.state', 'expired').whereNotNull('p.token_hash'));
  const events = await count(knex('request_events').where('event', 'expired'));
  if (expired !== prepared.requests || stillPending !== 0 || activeRoles !== 0 || liveTokens !== 0 || mails !== prepared.mails || events !== prepared.requests) {
    throw new Error(
      `expiry: expired ${expired} of ${prepared.requests}, ${stillPending} still pending, ${activeRoles} roles active, ${liveTokens} tokens live, ` +
        `${events} events, ${mails} mails of ${prepared.mails}`,
    );
  }
  progress(`  ${expired} requests expired in ${seconds.toFixed(2)} s, ${mails} mails queued, RSS ${rssBefore.toFixed(0)} → peak ${peak.toFixed(0)} MB`);
  result('expiry', { seconds, requests: expired, rss_mb: peak, rss_before_mb: rssBefore, mails, cpu_s: (cpu.user + cpu.system) / 1e6, main_thread_cpu_s: mainThread });
}

/** Runs the sweep in a child process (this file with BENCH_EXPIRY=sweep). */
export async function runSweepChild(databaseUrl: string, prepared: PreparedExpiry): Promise<void> {
  const child = spawnTs('bench/expiry.ts', { BENCH_EXPIRY: 'sweep', BENCH_DB_URL: databaseUrl, BENCH_EXPIRY_PREPARED: JSON.stringify(prepared) }, { stdout: 'inherit' });
  const code = await exited(child);
  if (code !== 0) throw new Error(`expiry sweep exited with code ${code}`);
}

async function main(): Promise<void> {
  if (process.env.BENCH_EXPIRY === 'sweep') {
    const knex = existingDatabase(process.env.BENCH_DB_URL as string).connect();
    try {
      await sweepExpiry(knex, JSON.parse(process.env.BENCH_EXPIRY_PREPARED as string) as PreparedExpiry);
    } finally {
      await knex.destroy();
    }
    return;
  }
  // Standalone: a fresh database with just enough accounts and services, then the sweep.
  const database = await createBenchDatabase();
  try {
    const knex = database.connect();
    let prepared: PreparedExpiry;
    try {
      await migrateLatest(knex);
      const services = scaled(100_000, 100);
      await seedLarge(knex, { accounts: Math.max(50, Math.round(services / 10)), services, bigServices: Math.max(2, Math.round(services / 100)) });
      prepared = await prepareExpiry(knex, services);
    } finally {
      await knex.destroy();
    }
    await runSweepChild(database.url, prepared);
  } finally {
    await database.drop();
  }
}

runIfMain(import.meta.url, main);
