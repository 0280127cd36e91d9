// Change requests written straight into the tables, for the reports: the consent flow is not needed
// to list what it would have written.
import type { Knex } from 'knex';

export const T0 = Date.UTC(2027, 0, 4, 9, 30);
const DAY = 24 * 3600_000;

export interface RequestFixture {
  ids: Record<'pending' | 'done' | 'failed', number>;
}

export async function insertRequests(knex: Knex): Promise<RequestFixture> {
  await knex('accounts').insert(
    ['ab1-ovh', 'cd2-ovh', 'ef3-ovh'].map((handle) => ({ handle, email: `${handle}@example.com`, password_hash: 'x', created_at: T0, updated_at: T0 })),
  );
  const id = async (handle: string) => ((await knex('accounts').where({ handle }).first('id')) as { id: number }).id;
  const [ab, cd, ef] = [await id('ab1-ovh'), await id('cd2-ovh'), await id('ef3-ovh')];
  await knex('services').insert({ name: 'exemple-boutique.pt', search_name: 'exemple-boutique.pt', type: 'domain', admin_id: ab, tech_id: cd, billing_id: ab, created_at: T0, updated_at: T0 });
  const service = ((await knex('services').first('id')) as { id: number }).id;
  const insert = async (row: Record<string, unknown>) => {
    await knex('change_requests').insert({ service_id: service, requester_id: ab, created_at: T0, expires_at: T0 + 7 * DAY, ...row });
    return ((await knex('change_requests').max({ id: 'id' }).first()) as { id: number }).id;
  };
  const pending = await insert({ from_account_id: cd, to_account_id: ef, roles: 'tech', state: 'pending', created_at: T0 + 2 * DAY, expires_at: T0 + 9 * DAY });
  const done = await insert({ from_account_id: ab, to_account_id: ef, roles: 'tech,billing', state: 'done', decided_at: T0 + DAY });
  const failed = await insert({ from_account_id: ab, to_account_id: cd, roles: 'billing', state: 'failed', failure_reason: 'billingOverdue', created_at: T0 + DAY });
  return { ids: { pending, done, failed } };
}
