// account_service_counts is kept by triggers (migrations 20261124050000 and 20261124050100): after
// every kind of write to services — the catalog, applied change requests, bulk imports, raw
// single- and multi-row inserts, updates and deletes — it must equal what plain SQL counts.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import type { Account } from '../../src/domain/accounts.js';
import type { ChangeRequest } from '../../src/domain/change-requests.js';
import { ValidationError } from '../../src/domain/errors.js';
import { ACCOUNT_IMPORT_HEADER, importAccounts, importServices, SERVICE_IMPORT_HEADER, type ImportRecord } from '../../src/domain/imports.js';
import { ROLES, SERVICE_TYPES, type Role, type ServiceType } from '../../src/domain/roles.js';
import { untilALockIsAwaited } from '../helpers/test-database.js';
import { PAGE_SIZE, type ServiceListQuery } from '../../src/domain/services.js';
import * as maintainCounts from '../../src/db/migrations/20261124050100_maintain_account_service_counts.js';
import * as addListVersion from '../../src/db/migrations/20261125010000_add_list_version_to_account_service_counts.js';
import * as maintainVersions from '../../src/db/migrations/20261125010100_maintain_list_versions.js';
import { CTX, DomainFixture, nextHandle } from '../helpers/domain-fixtures.js';
// The benchmark's deterministic PRNG (mulberry32), so a failing sequence can be replayed from its seed.
import { prng } from '../../bench/lib.js';
import { assertCountsExact, keptCounts, realCounts } from '../helpers/service-counts.js';

const COLUMNS = { admin: 'admin_id', tech: 'tech_id', billing: 'billing_id' } as const;

/** Searched and type-filtered totals, as listForAccount answers them (kept in memory between calls), against plain SQL. */
async function assertFilteredTotalsExact(f: DomainFixture, accounts: Account[], context: string): Promise<void> {
  const filters: { q?: string; type?: ServiceType; role?: Role }[] = [{ q: 'import' }, { q: 'refiled' }, { type: 'domain' }, { type: 'hosting', role: 'tech' }];
  for (const account of accounts) {
    for (const filter of filters) {
      let real = f.knex('services').where((where) => {
        if (filter.role) where.where(COLUMNS[filter.role], account.id);
        else where.where('admin_id', account.id).orWhere('tech_id', account.id).orWhere('billing_id', account.id);
      });
      if (filter.q) real = real.where('search_name', 'like', `%${filter.q}%`);
      if (filter.type) real = real.where('type', filter.type);
      const expected = Number(((await real.count({ n: '*' }).first()) as { n: number | string }).n);
      const listed = await f.domain.services.listForAccount(account.id, query(filter));
      assert.equal(listed.total, expected, `${context}\naccount ${account.id}, ${JSON.stringify(filter)}`);
    }
  }
}

async function* records(header: readonly string[], rows: string[][]): AsyncGenerator<ImportRecord> {
  yield { line: 1, fields: [...header] };
  for (const [i, fields] of rows.entries()) yield { line: i + 2, fields };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const query = (overrides: Partial<ServiceListQuery> = {}): ServiceListQuery => ({ q: '', type: undefined, role: undefined, sort: 'name', page: 1, ...overrides });

describe('domain: account service counts (kept by triggers)', () => {
  let f: DomainFixture;

  before(async () => {
    f = await DomainFixture.create();
  });
  after(() => f.close());

  it('gives every account its row, with zero counts, however it is created', async () => {
    const created = await f.account();
    await importAccounts(records(ACCOUNT_IMPORT_HEADER, [[nextHandle('ia'), 'ia@example.test', 'Imported', 'en', '']]), { knex: f.knex, handleSuffix: 'ovh' });
    const real = await assertCountsExact(f.knex, 'after creating accounts');
    assert.deepEqual(real.find((row) => row.account_id === created.id), { account_id: created.id, services: 0, admin: 0, tech: 0, billing: 0 });
  });

  it('counts a service once per account, whichever roles it holds there', async () => {
    const [x, y, z] = (await f.accounts(3)) as [Account, Account, Account];
    await f.service({ admin: x, tech: x, billing: x });
    await f.service({ admin: x, tech: y, billing: x });
    await f.service({ admin: y, tech: x, billing: x });
    await f.service({ admin: y, tech: z, billing: y });
    const counts = new Map((await assertCountsExact(f.knex, 'after creating services')).map((row) => [row.account_id, row]));
    assert.deepEqual(counts.get(x.id), { account_id: x.id, services: 3, admin: 2, tech: 2, billing: 3 });
    assert.deepEqual(counts.get(y.id), { account_id: y.id, services: 3, admin: 2, tech: 1, billing: 1 });
    assert.deepEqual(counts.get(z.id), { account_id: z.id, services: 1, admin: 0, tech: 1, billing: 0 });
  });

  it('stays exact through a random sequence of creations, change requests, imports, raw updates and deletes', async function () {
    this.timeout(120_000);
    const seed = Number(process.env.COUNTS_SEED ?? 20261124);
    const random = prng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const { knex } = f;
    const now = f.clock.now;

    // A small pool of accounts, so services share them and often name one account in several roles.
    const people: Account[] = await f.accounts(4);
    const byId = async (id: number) => (await f.domain.accounts.findById(id)) as Account;
    const refreshPeople = async () => {
      const rows = (await knex('accounts').orderBy('id').select('id')) as { id: number }[];
      for (const row of rows.slice(-12)) if (!people.some((p) => p.id === Number(row.id))) people.push(await byId(Number(row.id)));
    };
    // Mostly three of them, so that many services have exactly the same contacts.
    const person = () => (random() < 0.7 ? pick(people.slice(0, 3)) : pick(people));
    const contacts = () => ({ admin: person(), tech: person(), billing: person() });
    const serviceIds = async (): Promise<number[]> => ((await knex('services').select('id')) as { id: number }[]).map((row) => Number(row.id));
    // Services no change request refers to (the others cannot be deleted).
    const deletableIds = async (): Promise<number[]> =>
      ((await knex('services as s').whereNotExists((sub) => sub.select(knex.raw('1')).from('change_requests as r').whereRaw('r.service_id = s.id')).select('s.id')) as {
        id: number;
      }[]).map((row) => Number(row.id));

    const operations: Record<string, () => Promise<string>> = {
      async catalog() {
        const c = contacts();
        const service = await f.service(c, { type: pick(SERVICE_TYPES) });
        return `catalog create ${service.id} (${c.admin.id}, ${c.tech.id}, ${c.billing.id})`;
      },
      async changeRequest() {
        const id = pick(await serviceIds());
        const service = await f.knex('services').where({ id }).first('admin_id');
        const admin = await byId(Number((service as { admin_id: number }).admin_id));
        const input: Partial<Record<Role, string>> = {};
        for (const role of ROLES) if (random() < 0.5) input[role] = person().handle;
        let requests: ChangeRequest[];
        try {
          requests = await f.domain.requests.submit(admin.id, id, input, CTX);
        } catch (error) {
          if (error instanceof ValidationError) return `change request on ${id}: nothing to change`;
          throw error;
        }
        const outcomes: string[] = [];
        for (const request of requests) {
          const refuse = random() < 0.15;
          for (const party of request.parties) {
            const account = await byId(party.accountId);
            const token = await f.tokenOf(request.id, account);
            const outcome = await f.domain.requests.decide(request.id, account.id, { token, decision: refuse ? 'refuse' : 'accept' }, CTX);
            if (outcome.outcome !== 'waiting') outcomes.push(`${request.roles.join('+')} ${request.from.id}->${request.to.id} ${outcome.outcome}`);
            if (refuse) break;
          }
        }
        return `change requests on ${id}: ${outcomes.join(', ')}`;
      },
      async importServices() {
        const rows = Array.from({ length: 1 + Math.floor(random() * 30) }, () => {
          const c = contacts();
          return [`import-${nextHandle('im')}`, pick(SERVICE_TYPES), c.admin.handle, c.tech.handle, c.billing.handle];
        });
        await importServices(records(SERVICE_IMPORT_HEADER, rows), { knex, handleSuffix: 'ovh', now, batchSize: 1 + Math.floor(random() * 10) });
        return `import of ${rows.length} services`;
      },
      async importAccounts() {
        const rows = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
          const handle = nextHandle('ia');
          return [handle, `${handle}@example.test`, 'Imported', 'en', ''];
        });
        await importAccounts(records(ACCOUNT_IMPORT_HEADER, rows), { knex, handleSuffix: 'ovh', now });
        await refreshPeople();
        return `import of ${rows.length} accounts`;
      },
      async rawInsert() {
        const rows = Array.from({ length: 1 + Math.floor(random() * 5) }, () => {
          const c = contacts();
          const name = `raw-${nextHandle('rw')}`;
          return { name, search_name: name, type: 'domain', admin_id: c.admin.id, tech_id: c.tech.id, billing_id: c.billing.id, created_at: now(), updated_at: now() };
        });
        await knex('services').insert(rows);
        return `raw insert of ${rows.length} services`;
      },
      async rawUpdateOne() {
        const id = pick(await serviceIds());
        const update: Record<string, number> = {};
        // Sometimes a role is "changed" to the account that already holds it.
        for (const role of ROLES) if (random() < 0.5) update[COLUMNS[role]] = person().id;
        if (Object.keys(update).length === 0) update.updated_at = now();
        await knex('services').where({ id }).update(update);
        return `raw update of ${id}: ${JSON.stringify(update)}`;
      },
      async rawUpdateMany() {
        const [from, to] = [person(), person()];
        const column = COLUMNS[pick(ROLES)];
        const n = await knex('services').where(column, from.id).update({ [column]: to.id });
        return `raw update of ${n} services: ${column} ${from.id} -> ${to.id}`;
      },
      async rawUpdateHalf() {
        // Of services with the same contacts, one statement changes some and leaves the others.
        const [from, to] = [person(), person()];
        const column = COLUMNS[pick(ROLES)];
        const n = await knex('services')
          .where(column, from.id)
          .update({ [column]: knex.raw('CASE WHEN id % 2 = 0 THEN ? ELSE ?? END', [to.id, column]) });
        return `raw update of the even ones of ${n} services: ${column} ${from.id} -> ${to.id}`;
      },
      async rawSwap() {
        const ids = (await serviceIds()).filter(() => random() < 0.3);
        const [a, b] = [COLUMNS[pick(ROLES)], COLUMNS[pick(ROLES)]];
        // Both SET expressions read the row as it was: the two contacts trade places.
        const n = await knex('services').whereIn('id', ids).update({ [a]: knex.ref(b), [b]: knex.ref(a) });
        return `raw swap of ${a} and ${b} on ${n} services`;
      },
      async rawRefile() {
        // A new folded name and type: what a search or a type filter matches changes, the counts do not.
        const ids = (await serviceIds()).filter(() => random() < 0.2);
        const n = await knex('services')
          .whereIn('id', ids)
          .update({ search_name: knex.raw(`CASE WHEN id % 2 = 0 THEN 'refiled ' || search_name ELSE search_name END`), type: pick(SERVICE_TYPES) });
        return `raw refile of ${n} services`;
      },
      async rawUpdateOtherColumns() {
        const n = await knex('services').where('id', '>', pick(await serviceIds())).update({ name: knex.raw(`name || 'x'`), updated_at: now() });
        return `raw update of names on ${n} services`;
      },
      async rawDelete() {
        const candidates = await deletableIds();
        const ids = random() < 0.5 ? [pick(candidates)].filter((id) => id !== undefined) : candidates.filter(() => random() < 0.25);
        const n = await knex('services').whereIn('id', ids).delete();
        return `raw delete of ${n} services`;
      },
    };
    const weighted = [
      ...Array<string>(5).fill('catalog'),
      ...Array<string>(4).fill('changeRequest'),
      ...Array<string>(2).fill('importServices'),
      'importAccounts',
      ...Array<string>(2).fill('rawInsert'),
      ...Array<string>(3).fill('rawUpdateOne'),
      ...Array<string>(2).fill('rawUpdateMany'),
      ...Array<string>(2).fill('rawUpdateHalf'),
      'rawSwap',
      'rawRefile',
      'rawUpdateOtherColumns',
      ...Array<string>(2).fill('rawDelete'),
    ];

    const seen = new Set<string>();
    const log: string[] = [];
    const names = Object.keys(operations);
    for (let step = 0; step < 150; step += 1) {
      // A few services first, then every kind of write once, then at random.
      const name = step < 3 ? 'catalog' : step < 3 + names.length ? (names[step - 3] as string) : pick(weighted);
      seen.add(name);
      log.push(`${step}: ${await (operations[name] as () => Promise<string>)()}`);
      await assertCountsExact(knex, `seed ${seed}, after\n${log.slice(-5).join('\n')}`);
      await assertFilteredTotalsExact(f, people.slice(0, 3), `seed ${seed}, after\n${log.slice(-5).join('\n')}`);
    }
    assert.deepEqual([...seen].sort(), names.sort(), 'every kind of write ran');
    const real = await realCounts(knex);
    assert.ok(real.some((row) => row.services > 0 && row.services < row.admin + row.tech + row.billing), 'some service names one account in several roles');
  });

  it('stays exact under concurrent writes to the same accounts', async () => {
    const [x, y, z] = (await f.accounts(3)) as [Account, Account, Account];
    const other = f.db.connect();
    try {
      await Promise.all(
        Array.from({ length: 24 }, (_, i) => {
          const c = [{ admin: x, tech: y, billing: z }, { admin: y, tech: x, billing: x }, { admin: z, tech: z, billing: y }][i % 3] as Record<Role, Account>;
          const knex = i % 2 === 0 ? f.knex : other;
          return knex.transaction(async (trx) => {
            const [row] = await trx('services')
              .insert({ name: `c-${i}`, search_name: `c-${i}`, type: 'domain', admin_id: c.admin.id, tech_id: c.tech.id, billing_id: c.billing.id, created_at: 0, updated_at: 0 })
              .returning(['id']);
            await trx('services')
              .where({ id: (row as { id: number }).id })
              .update({ tech_id: c.billing.id, billing_id: c.tech.id });
          });
        }),
      );
    } finally {
      await other.destroy();
    }
    const counts = new Map((await assertCountsExact(f.knex, 'after concurrent writes')).map((row) => [row.account_id, row]));
    assert.deepEqual(counts.get(x.id), { account_id: x.id, services: 16, admin: 8, tech: 8, billing: 8 });
  });

  it('lets two imports of several batches over the same accounts, in opposite orders, both finish', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    const other = f.db.connect();
    // Each import writes one service per INSERT and, before its second INSERT, waits until the
    // other has written its first, or waits for a lock: left to the triggers alone, each would then
    // hold the counts row the other needs next, and PostgreSQL would end one as a deadlock. (A
    // PostgreSQL regression test: on SQLite the second import waits in BEGIN IMMEDIATE, where no
    // query can see it, so the first goes on after 500 ms.)
    const firstWritten = [deferred(), deferred()];
    const slowedDown = (knex: Knex, me: 0 | 1): Knex => {
      let inserts = 0;
      const wrapTransaction = (trx: Knex.Transaction) =>
        new Proxy(trx, {
          apply(target, thisArg, args: unknown[]) {
            const builder = Reflect.apply(target, thisArg, args) as Knex.QueryBuilder;
            if (args[0] !== 'services') return builder;
            const insert = builder.insert.bind(builder) as (rows: unknown) => Promise<unknown>;
            return Object.assign(builder, {
              insert: async (rows: unknown) => {
                inserts += 1;
                if (inserts === 2) {
                  firstWritten[me]?.resolve();
                  await Promise.race([firstWritten[1 - me]?.promise, untilALockIsAwaited(f.db, 500)]);
                }
                return insert(rows);
              },
            });
          },
        });
      return new Proxy(knex, {
        get(target, property, receiver) {
          if (property !== 'transaction') return Reflect.get(target, property, receiver) as unknown;
          return (work: (trx: Knex.Transaction) => Promise<unknown>) => target.transaction((trx) => work(wrapTransaction(trx)));
        },
      });
    };
    const rowsFor = (first: Account, second: Account, tag: string) => [
      [`${tag}-1.example`, 'domain', first.handle, first.handle, first.handle],
      [`${tag}-2.example`, 'domain', second.handle, second.handle, second.handle],
    ];
    try {
      const outcomes = await Promise.allSettled([
        importServices(records(SERVICE_IMPORT_HEADER, rowsFor(x, y, 'xy')), { knex: slowedDown(f.knex, 0), handleSuffix: 'ovh', batchSize: 1 }),
        importServices(records(SERVICE_IMPORT_HEADER, rowsFor(y, x, 'yx')), { knex: slowedDown(other, 1), handleSuffix: 'ovh', batchSize: 1 }),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : String(outcome.reason))),
        [{ rows: 2 }, { rows: 2 }],
      );
    } finally {
      await other.destroy();
    }
    const counts = new Map((await assertCountsExact(f.knex, 'after two crossing imports')).map((row) => [row.account_id, row]));
    assert.deepEqual(counts.get(x.id), { account_id: x.id, services: 2, admin: 2, tech: 2, billing: 2 });
  });

  it('listForAccount reads totals equal to the real counts, with and without a role filter', async () => {
    for (const real of await realCounts(f.knex)) {
      const all = await f.domain.services.listForAccount(real.account_id, query());
      assert.equal(all.total, real.services, `account ${real.account_id}`);
      assert.equal(all.pageCount, Math.max(1, Math.ceil(real.services / PAGE_SIZE)));
      assert.equal(all.rows.length, Math.min(PAGE_SIZE, real.services));
      for (const role of ROLES) {
        const page = await f.domain.services.listForAccount(real.account_id, query({ role }));
        assert.equal(page.total, real[role], `account ${real.account_id}, role ${role}`);
        assert.ok(page.rows.every((row) => row.myRoles.includes(role)));
      }
    }
  });

  it('listForAccount takes the unfiltered total from the counts, pages by it, and counts when it must', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    for (let i = 0; i < 120; i += 1) {
      await f.knex('services').insert({
        name: `p-${String(i).padStart(3, '0')}`,
        search_name: `p-${String(i).padStart(3, '0')}`,
        type: i % 2 === 0 ? 'domain' : 'hosting',
        admin_id: i % 3 === 0 ? x.id : y.id,
        tech_id: x.id,
        billing_id: i % 4 === 0 ? x.id : y.id,
        created_at: 0,
        updated_at: 0,
      });
    }
    const lastPage = await f.domain.services.listForAccount(x.id, query({ page: 99 }));
    assert.deepEqual([lastPage.total, lastPage.page, lastPage.pageCount, lastPage.rows.length], [120, 3, 3, 20], 'page clamped to the last one');
    assert.deepEqual(
      lastPage.rows.map((row) => row.name),
      Array.from({ length: 20 }, (_, i) => `p-${String(100 + i).padStart(3, '0')}`),
    );
    assert.equal((await f.domain.services.listForAccount(x.id, query({ role: 'admin' }))).total, 40);
    assert.equal((await f.domain.services.listForAccount(x.id, query({ role: 'billing' }))).total, 30);
    assert.equal((await f.domain.services.listForAccount(x.id, query({ type: 'hosting' }))).total, 60, 'a type filter is counted');
    assert.equal((await f.domain.services.listForAccount(x.id, query({ q: 'p-00' }))).total, 10, 'a search is counted');
    assert.equal((await f.domain.services.listForAccount(x.id, query({ q: 'p-00', role: 'admin' }))).total, 4);

    // The unfiltered and role totals come from the counts row, each from its own column (at a new
    // version, or the totals remembered at the old one would be answered)…
    await f.knex('account_service_counts').where({ account_id: x.id }).update({ services: 7, admin: 1, tech: 2, billing: 3, list_version: f.knex.raw('list_version + 1') });
    assert.deepEqual(
      await Promise.all([undefined, ...ROLES].map(async (role) => (await f.domain.services.listForAccount(x.id, query({ role }))).total)),
      [7, 1, 2, 3],
    );
    assert.equal((await f.domain.services.listForAccount(x.id, query({ type: 'hosting' }))).total, 60);
    // …and without a row (which only a write bypassing the triggers could cause), they are counted.
    await f.knex('account_service_counts').where({ account_id: x.id }).delete();
    assert.equal((await f.domain.services.listForAccount(x.id, query())).total, 120);
    assert.equal((await f.domain.services.listForAccount(x.id, query({ role: 'tech' }))).total, 120);
    await f.knex.transaction(async (trx) => {
      await maintainCounts.down(trx);
      await maintainCounts.up(trx);
    });
    await assertCountsExact(f.knex, 'after rebuilding');
  });

  it('gives a new list version to the contacts of a service inserted, deleted, moved, renamed or retyped, and to no one else', async () => {
    const [x, y, z, w] = (await f.accounts(4)) as [Account, Account, Account, Account];
    const versions = async (): Promise<number[]> => {
      const rows = (await f.knex('account_service_counts').whereIn('account_id', [x.id, y.id, z.id, w.id]).select('account_id', 'list_version')) as {
        account_id: number;
        list_version: number | string;
      }[];
      return [x, y, z, w].map((account) => Number(rows.find((row) => Number(row.account_id) === account.id)?.list_version));
    };
    /** Which of x, y, z, w got a new (greater) version from `write`. */
    const bumped = async (write: () => Promise<unknown>): Promise<string> => {
      const before = await versions();
      await write();
      const after = await versions();
      return ['x', 'y', 'z', 'w'].filter((_name, i) => (after[i] as number) > (before[i] as number)).join('');
    };
    let id = 0;
    assert.equal(
      await bumped(async () => {
        id = (await f.service({ admin: x, tech: y, billing: x }, { name: 'Version one' })).id;
      }),
      'xy',
      'insert',
    );
    const update = (fields: Record<string, unknown>) => () => f.knex('services').where({ id }).update(fields);
    assert.equal(await bumped(update({ name: 'Version One', updated_at: 1 })), '', 'a new name that folds the same, and updated_at');
    assert.equal(await bumped(update({ owner_name: 'Someone' })), '', 'owner details');
    assert.equal(await bumped(update({ search_name: 'version uno' })), 'xy', 'a new folded name');
    assert.equal(await bumped(update({ type: 'hosting' })), 'xy', 'a new type');
    assert.equal(await bumped(update({ tech_id: z.id })), 'yz', 'a new contact: the old and the new one, not the others');
    assert.equal(await bumped(update({ billing_id: x.id })), '', 'a contact set to the account that already holds it');
    assert.equal(await bumped(update({ billing_id: y.id })), 'xy', 'a role lost by an account that keeps another');
    assert.equal(await bumped(update({ admin_id: w.id, search_name: 'version dos' })), 'xyzw', 'a new contact and a new folded name');
    assert.equal(await bumped(() => f.knex('services').where({ id }).delete()), 'yzw', 'delete');
    assert.equal(await bumped(() => f.account()), '', 'another account');
    // Versions come from the clock and only grow, so they do not come back when the rows are rebuilt.
    const kept = await versions();
    await f.knex.transaction(async (trx) => {
      await maintainCounts.down(trx);
      await maintainCounts.up(trx);
    });
    assert.deepEqual(await versions(), [0, 0, 0, 0], 'the counts migration rebuilds the rows at 0');
    await f.service({ admin: x, tech: x, billing: x });
    assert.ok(((await versions())[0] as number) > (kept[0] as number), 'the next version is newer than any before the rebuild');
    // The column's migration starts the rows already there at the clock's time, not at 0.
    const before = Date.now() * 1000;
    await f.knex.transaction(async (trx) => {
      await maintainVersions.down(trx);
      await addListVersion.down(trx);
      await addListVersion.up(trx);
      await maintainVersions.up(trx);
    });
    for (const version of await versions()) assert.ok(version >= before - 1_000_000 && version <= Date.now() * 1000 + 1_000_000, `version ${version} near ${before}`);
    assert.equal(await bumped(() => f.service({ admin: w })), 'w', 'the triggers again');
  });

  it('listForAccount counts a search once per list version and counts again after any change', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    for (let i = 0; i < 60; i += 1) await f.service({ admin: i % 2 === 0 ? x : y, tech: x, billing: y }, { name: `Kept ${i}`, type: i % 3 === 0 ? 'hosting' : 'domain' });
    const total = async (filters: Partial<ServiceListQuery>) => (await f.domain.services.listForAccount(x.id, query(filters))).total;
    const version = async () => Number(((await f.knex('account_service_counts').where({ account_id: x.id }).first('list_version')) as { list_version: number | string }).list_version);
    assert.equal(await total({ q: 'kept 1' }), 11);
    assert.equal(await total({ type: 'hosting' }), 20);

    // Kept, not counted: with its version put back after a write, the old total is still answered…
    const counted = await version();
    const added = await f.service({ admin: x, tech: x, billing: x }, { name: 'Kept 1000', type: 'hosting' });
    const moved = await version();
    assert.ok(moved > counted);
    await f.knex('account_service_counts').where({ account_id: x.id }).update({ list_version: counted });
    assert.deepEqual([await total({ q: 'kept 1' }), await total({ type: 'hosting' })], [11, 20], 'kept totals');
    assert.equal(await total({ q: 'kept 2' }), 11, 'a search not counted before is counted');
    // …and the real version has both counted again.
    await f.knex('account_service_counts').where({ account_id: x.id }).update({ list_version: moved });
    assert.deepEqual([await total({ q: 'kept 1' }), await total({ type: 'hosting' })], [12, 21], 'after an insert');

    // Each kind of change, by any process (here raw SQL), is seen on the next page.
    await f.knex('services').where({ id: added.id }).update({ search_name: 'gone 1000' });
    assert.equal(await total({ q: 'kept 1' }), 11, 'after a new folded name');
    await f.knex('services').where({ id: added.id }).update({ type: 'domain' });
    assert.equal(await total({ type: 'hosting' }), 20, 'after a new type');
    assert.equal(await total({ q: 'kept 1', role: 'admin' }), 5);
    await f.knex('services').where('search_name', 'like', 'kept 1%').andWhere({ admin_id: x.id }).update({ admin_id: y.id });
    assert.equal(await total({ q: 'kept 1', role: 'admin' }), 0, 'after a change of contacts');
    assert.equal(await total({ q: 'kept 1' }), 11, 'still listed as their technical contact');
    await f.knex('services').where({ id: added.id }).delete();
    await f.knex('services').where('search_name', 'like', 'kept 1%').update({ tech_id: y.id });
    assert.equal(await total({ q: 'kept 1' }), 0, 'after the last role is gone');
    // An account's totals are its own.
    assert.equal((await f.domain.services.listForAccount(y.id, query({ q: 'kept 1' }))).total, 11);
  });

  it('the migration fills the counts for the data already there, and its down drops the triggers', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    await f.knex.transaction((trx) => maintainCounts.down(trx));
    assert.deepEqual(await keptCounts(f.knex), [], 'down empties the counts');
    // With the triggers gone, nothing follows these writes.
    await f.service({ admin: x, tech: y, billing: x });
    await f.knex('services').where({ admin_id: y.id }).update({ admin_id: x.id });
    await f.account();
    assert.deepEqual(await keptCounts(f.knex), []);
    await f.knex.transaction((trx) => maintainCounts.up(trx));
    await assertCountsExact(f.knex, 'after the migration');
    await f.service({ admin: y, tech: y, billing: x });
    await assertCountsExact(f.knex, 'the triggers work again');
  });

  // Last: it empties the services of this file's database.
  it('drops every count to zero when all services go at once (TRUNCATE on PostgreSQL)', async () => {
    const before = await assertCountsExact(f.knex, 'before');
    assert.ok(before.some((row) => row.services > 0));
    if (f.db.client === 'pg') {
      await f.knex.raw('TRUNCATE services CASCADE');
    } else {
      for (const table of ['outbox', 'request_events', 'request_parties', 'request_roles', 'change_requests', 'services']) await f.knex(table).delete();
    }
    const after = await assertCountsExact(f.knex, 'after');
    assert.equal(after.length, before.length, 'every account keeps its row');
    assert.ok(after.every((row) => row.services === 0 && row.admin === 0 && row.tech === 0 && row.billing === 0));
  });
});
