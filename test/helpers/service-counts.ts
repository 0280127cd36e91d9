// account_service_counts as the triggers keep it against what plain SQL counts from services
// (test/domain/account-service-counts.test.ts, and the benchmark's seed in test/bench).
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import { rowsOf } from '../../src/domain/sql-json.js';

export interface CountRow {
  account_id: number;
  services: number;
  admin: number;
  tech: number;
  billing: number;
}

/** The counts as the triggers keep them, one row per account, by account id. */
export async function keptCounts(knex: Knex): Promise<CountRow[]> {
  const rows = (await knex('account_service_counts').orderBy('account_id').select('account_id', 'services', 'admin', 'tech', 'billing')) as CountRow[];
  return rows.map(numbers);
}

/** The same counts, computed from services by plain SQL, for every account. */
export async function realCounts(knex: Knex): Promise<CountRow[]> {
  const result: unknown = await knex.raw(`
    SELECT a.id AS account_id,
           (SELECT count(*) FROM services s WHERE s.admin_id = a.id OR s.tech_id = a.id OR s.billing_id = a.id) AS services,
           (SELECT count(*) FROM services s WHERE s.admin_id = a.id) AS admin,
           (SELECT count(*) FROM services s WHERE s.tech_id = a.id) AS tech,
           (SELECT count(*) FROM services s WHERE s.billing_id = a.id) AS billing
      FROM accounts a
     ORDER BY a.id`);
  return rowsOf<CountRow>(result).map(numbers);
}

function numbers(row: CountRow): CountRow {
  return {
    account_id: Number(row.account_id),
    services: Number(row.services),
    admin: Number(row.admin),
    tech: Number(row.tech),
    billing: Number(row.billing),
  };
}

export async function assertCountsExact(knex: Knex, context: string): Promise<CountRow[]> {
  const real = await realCounts(knex);
  assert.deepEqual(await keptCounts(knex), real, context);
  return real;
}
