import assert from 'node:assert/strict';
import type { LRUCache } from 'lru-cache';
import type { Account } from '../../src/domain/accounts.js';
import { NotFoundError, ValidationError } from '../../src/domain/errors.js';
import type { Role, ServiceType } from '../../src/domain/roles.js';
import { PAGE_SIZE, parseListQuery, ServiceCatalog, type ServiceListQuery } from '../../src/domain/services.js';
import { foldForSearch } from '../../src/domain/search-text.js';
import { rowsOf } from '../../src/domain/sql-json.js';
import { createKnex } from '../../src/db/knex.js';
import { CTX, DomainFixture, rejectsField, rejectsWith } from '../helpers/domain-fixtures.js';

function query(overrides: Partial<ServiceListQuery> = {}): ServiceListQuery {
  return { q: '', type: undefined, role: undefined, sort: 'name', page: 1, ...overrides };
}

describe('domain: service catalog', () => {
  let f: DomainFixture;

  before(async () => {
    f = await DomainFixture.create();
  });
  after(() => f.close());

  async function names(account: Account, overrides: Partial<ServiceListQuery> = {}): Promise<string[]> {
    return (await f.domain.services.listForAccount(account.id, query(overrides))).rows.map((row) => row.name);
  }

  it('lists only the services where the account holds a role, with its roles', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    const admin = await f.service({ admin: x, tech: y, billing: y }, { name: 'x-admin' });
    const tech = await f.service({ admin: y, tech: x, billing: y }, { name: 'x-tech' });
    const billing = await f.service({ admin: y, tech: y, billing: x }, { name: 'x-billing' });
    const all = await f.service({ admin: x }, { name: 'x-all' });
    const none = await f.service({ admin: y }, { name: 'y-only' });

    const page = await f.domain.services.listForAccount(x.id, query());
    assert.equal(page.total, 4);
    const byName = Object.fromEntries(page.rows.map((row) => [row.name, row]));
    assert.deepEqual(Object.keys(byName).sort(), ['x-admin', 'x-all', 'x-billing', 'x-tech']);
    assert.deepEqual(byName['x-admin']?.myRoles, ['admin']);
    assert.deepEqual(byName['x-tech']?.myRoles, ['tech']);
    assert.deepEqual(byName['x-billing']?.myRoles, ['billing']);
    assert.deepEqual(byName['x-all']?.myRoles, ['admin', 'tech', 'billing']);
    assert.deepEqual(byName['x-tech']?.admin, { id: y.id, handle: y.handle }, 'the three contacts are shown');
    assert.deepEqual(byName['x-tech']?.tech, { id: x.id, handle: x.handle });

    assert.deepEqual((await f.domain.services.findForAccount(String(tech.id), x.id)).myRoles, ['tech']);
    assert.deepEqual((await f.domain.services.findForAccount(billing.id, x.id)).myRoles, ['billing']);
    assert.equal((await f.domain.services.findForAccount(admin.id, x.id)).name, 'x-admin');
    assert.equal((await f.domain.services.findForAccount(all.id, x.id)).id, all.id);
    await rejectsWith(f.domain.services.findForAccount(none.id, x.id), NotFoundError, 'errors.service.notFound');
    for (const bad of [999_999, '0', '-1', 'abc', `${admin.id}x`, '', null, undefined]) {
      await rejectsWith(f.domain.services.findForAccount(bad, x.id), NotFoundError);
    }
  });

  it('searches names case-insensitively, taking % and _ literally', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    for (const name of ['Alpha-Shop.example', 'alphabet.org', 'beta.net', '100%_sure.net', '100xxsure.net', 'a_b.com', 'axb.com', 'back\\slash.net']) {
      await f.service({ admin: x }, { name });
    }
    assert.deepEqual(await names(x, { q: 'ALPHA' }), ['Alpha-Shop.example', 'alphabet.org']);
    assert.deepEqual(await names(x, { q: 'shop' }), ['Alpha-Shop.example']);
    assert.deepEqual(await names(x, { q: '%' }), ['100%_sure.net']);
    assert.deepEqual(await names(x, { q: '_' }), ['100%_sure.net', 'a_b.com']);
    assert.deepEqual(await names(x, { q: 'a_b' }), ['a_b.com']);
    assert.deepEqual(await names(x, { q: '%_s' }), ['100%_sure.net']);
    assert.deepEqual(await names(x, { q: '\\' }), ['back\\slash.net']);
    assert.deepEqual(await names(x, { q: 'nothing-like-this' }), []);
    const page = await f.domain.services.listForAccount(x.id, query({ q: 'alpha' }));
    assert.equal(page.total, 2, 'the total counts the filtered rows');
  });

  it('searches without case or accents, in any script, both ways', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    for (const name of ['Música-Loja.pt', 'MUSICA-BAR.pt', 'école.fr', 'ΑΘΗΝΑ.gr', 'e\u0301tude.fr', 'ﬁle.example']) {
      await f.service({ admin: x }, { name });
    }
    assert.deepEqual(await names(x, { q: 'música' }), ['MUSICA-BAR.pt', 'Música-Loja.pt']);
    assert.deepEqual(await names(x, { q: 'MÚSICA-LOJA' }), ['Música-Loja.pt']);
    assert.deepEqual(await names(x, { q: 'musica' }), ['MUSICA-BAR.pt', 'Música-Loja.pt']);
    assert.deepEqual(await names(x, { q: 'ÉCOLE' }), ['école.fr']);
    assert.deepEqual(await names(x, { q: 'αθηνα' }), ['ΑΘΗΝΑ.gr']);
    assert.deepEqual(await names(x, { q: '\u00e9tude' }), ['e\u0301tude.fr'], 'composed finds decomposed');
    assert.deepEqual(await names(x, { q: 'file' }), ['ﬁle.example']);
    assert.equal((await f.domain.services.listForAccount(x.id, query({ q: 'Musica' }))).total, 2);
    // A search of nothing but accents is no search at all.
    assert.equal((await f.domain.services.listForAccount(x.id, query({ q: '\u0301' }))).total, 6);
    // Case folding, not just lower-casing: ß is ss, and a Greek sigma is one letter wherever it stands.
    await f.service({ admin: x }, { name: 'Straße-Shop.de' });
    await f.service({ admin: x }, { name: 'ΟΔΥΣΣΕΑΣ-travel.gr' });
    assert.deepEqual(await names(x, { q: 'STRASSE' }), ['Straße-Shop.de']);
    assert.deepEqual(await names(x, { q: 'straße' }), ['Straße-Shop.de']);
    assert.deepEqual(await names(x, { q: 'οδυσσεας' }), ['ΟΔΥΣΣΕΑΣ-travel.gr']);
    assert.deepEqual(await names(x, { q: 'ΟΔΥΣΣΕΑΣ' }), ['ΟΔΥΣΣΕΑΣ-travel.gr']);
    assert.deepEqual(await names(x, { q: 'σσεασ' }), ['ΟΔΥΣΣΕΑΣ-travel.gr']);
  });

  it('sorts by name as people read it: without case or accents', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    for (const name of ['zulu.net', 'école.fr', 'Alpha.net', 'Ecole.com', 'beta.org', 'my-shop.pt', 'myshop.pt', 'mya.pt']) await f.service({ admin: x }, { name });
    // Byte order of the folded names on both databases: punctuation counts, as on SQLite, even
    // where PostgreSQL's locale collation would skip it.
    assert.deepEqual(await names(x), ['Alpha.net', 'beta.org', 'Ecole.com', 'école.fr', 'my-shop.pt', 'mya.pt', 'myshop.pt', 'zulu.net']);
    assert.deepEqual(await names(x, { q: 'ECOLE' }), ['Ecole.com', 'école.fr']);
  });

  it('filters by type and by role', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    const make = (name: string, type: ServiceType, roles: Partial<Record<Role, Account>>) =>
      f.service({ admin: roles.admin ?? y, tech: roles.tech ?? y, billing: roles.billing ?? y }, { name, type });
    await make('d-admin', 'domain', { admin: x });
    await make('h-tech', 'hosting', { tech: x });
    await make('h-billing', 'hosting', { billing: x });
    await make('v-all', 'vps', { admin: x, tech: x, billing: x });
    await make('h-other', 'hosting', {});

    assert.deepEqual(await names(x, { type: 'hosting' }), ['h-billing', 'h-tech']);
    assert.deepEqual(await names(x, { role: 'tech' }), ['h-tech', 'v-all']);
    assert.deepEqual(await names(x, { role: 'admin' }), ['d-admin', 'v-all']);
    assert.deepEqual(await names(x, { role: 'billing', type: 'hosting' }), ['h-billing']);
    assert.deepEqual(await names(x, { type: 'cdn' }), []);
    // A role filter still shows every role the account holds on the row.
    const row = (await f.domain.services.listForAccount(x.id, query({ role: 'tech', type: 'vps' }))).rows[0];
    assert.deepEqual(row?.myRoles, ['admin', 'tech', 'billing']);
  });

  it('sorts by name by default and by type (then name) on request', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    await f.service({ admin: x }, { name: 'c', type: 'domain' });
    await f.service({ admin: x }, { name: 'a', type: 'vps' });
    await f.service({ admin: x }, { name: 'b', type: 'cdn' });
    await f.service({ admin: x }, { name: 'd', type: 'cdn' });
    assert.deepEqual(await names(x), ['a', 'b', 'c', 'd']);
    const byType = (await f.domain.services.listForAccount(x.id, query({ sort: 'type' }))).rows.map((row) => `${row.type}:${row.name}`);
    assert.deepEqual(byType, ['cdn:b', 'cdn:d', 'domain:c', 'vps:a']);
  });

  it('pages by 50 and clamps the page number', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    const created: string[] = [];
    for (let i = 0; i < 61; i += 1) {
      const name = `svc-${String(i).padStart(3, '0')}`;
      await f.service({ admin: x }, { name });
      created.push(name);
    }
    assert.equal(PAGE_SIZE, 50);
    const first = await f.domain.services.listForAccount(x.id, query({ page: 1 }));
    assert.deepEqual([first.total, first.page, first.pageCount, first.pageSize, first.rows.length], [61, 1, 2, 50, 50]);
    const second = await f.domain.services.listForAccount(x.id, query({ page: 2 }));
    assert.deepEqual([second.page, second.rows.length], [2, 11]);
    assert.deepEqual([...first.rows, ...second.rows].map((row) => row.name), created, 'the pages cover every service once, in order');

    const beyond = await f.domain.services.listForAccount(x.id, query({ page: 99 }));
    assert.equal(beyond.page, 2);
    assert.deepEqual(beyond.rows.map((row) => row.name), second.rows.map((row) => row.name));
    const below = await f.domain.services.listForAccount(x.id, query({ page: 0 }));
    assert.equal(below.page, 1);
    assert.equal(below.rows[0]?.name, 'svc-000');

    const [nobody] = (await f.accounts(1)) as [Account];
    const empty = await f.domain.services.listForAccount(nobody.id, query({ page: 5 }));
    assert.deepEqual([empty.total, empty.page, empty.pageCount, empty.rows.length], [0, 1, 1, 0]);
  });

  it('reads pages from the first rows of pages served before (keyset) and answers exactly what skipping answers, through changes', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    // 430 services in all three roles, many with the same name (the id decides their order).
    const types: ServiceType[] = ['domain', 'hosting', 'email'];
    const rows = Array.from({ length: 430 }, (_, i) => {
      const name = `Keyset ${i % 150}${i % 7 === 0 ? ' dup' : ''}`;
      return {
        name,
        search_name: foldForSearch(name),
        type: types[i % 3],
        admin_id: i % 4 === 0 ? x.id : y.id,
        tech_id: i % 4 === 1 ? x.id : y.id,
        billing_id: i % 4 >= 2 ? x.id : y.id,
        created_at: 0,
        updated_at: 0,
      };
    });
    for (let i = 0; i < rows.length; i += 100) await f.knex('services').insert(rows.slice(i, i + 100));
    const catalog = f.domain.services;
    // A catalog that remembers nothing: every page found by skipping.
    const fresh = () => new ServiceCatalog({ knex: f.knex, reader: f.knex, accounts: f.domain.accounts, now: f.clock.now });
    const statements: string[] = [];
    const reads: number[] = [];
    const onQuery = (data: { sql: string }) => statements.push(data.sql);
    f.knex.on('query', onQuery);
    try {
      /** The page from the remembering catalog, checked against a fresh one; and whether it was read from an anchor. */
      const page = async (filters: Partial<ServiceListQuery>, n: number): Promise<'anchor' | 'skip'> => {
        statements.length = 0;
        const remembered = await catalog.listForAccount(x.id, query({ ...filters, page: n }));
        // The last statement read the page (an earlier one, planned at an old version, is dropped).
        const used = (statements.at(-1) ?? '').includes(') >= (');
        reads.push(statements.length);
        const expected = await fresh().listForAccount(x.id, query({ ...filters, page: n }));
        assert.deepEqual(remembered, expected, `${JSON.stringify(filters)} page ${n}`);
        return used ? 'anchor' : 'skip';
      };
      for (const filters of [{}, { q: 'dup' }, { type: 'hosting' as const, sort: 'type' as const }, { role: 'billing' as const }, { sort: 'type' as const }]) {
        const { pageCount } = await fresh().listForAccount(x.id, query(filters));
        const visits = [1, 2, 3, 3, 5, 4, pageCount, pageCount - 1, 2, pageCount];
        const how: string[] = [];
        reads.length = 0;
        for (const n of visits) how.push(await page(filters, Math.max(1, n)));
        // One statement for a list served before at the same version; the first visit reads its
        // total and page 1 together too.
        assert.deepEqual(reads, visits.map(() => 1), JSON.stringify(filters));
        if (pageCount >= 6) {
          // The last page is read backwards from the end, skipping nothing, and the one before it
          // too: nearer the end than to any anchor.
          assert.deepEqual(how, ['skip', 'anchor', 'anchor', 'anchor', 'anchor', 'anchor', 'skip', 'skip', 'anchor', 'skip'], JSON.stringify(filters));
        }
      }

      // Any change to the list gives it a new version: nothing remembered before is used.
      await page({}, 4);
      assert.equal(await page({}, 4), 'anchor');
      await f.knex('services').where({ admin_id: x.id }).orderBy('id').limit(1).update({ search_name: 'aaa first now' });
      assert.equal(await page({}, 4), 'skip', 'after a rename');
      assert.equal(await page({}, 5), 'anchor');
      await f.service({ admin: x }, { name: 'Keyset 0 new' });
      assert.equal(await page({}, 5), 'skip', 'after an insert');
      assert.equal(await page({ q: 'dup' }, 2), 'skip', 'a search after an insert');
      await f.knex('services').where({ tech_id: x.id }).orderBy('id').limit(3).update({ tech_id: y.id });
      assert.equal(await page({}, 5), 'skip', 'after a change of contacts');
      // Served again at the new version, the page is remembered again.
      assert.equal(await page({}, 5), 'anchor');
      // Nothing is remembered at version 0 (a counts row never changed since it was created).
      await f.knex('account_service_counts').where({ account_id: x.id }).update({ list_version: 0 });
      // (The first read still tries what was remembered at the old version, then forgets it.)
      assert.deepEqual([await page({}, 5), await page({}, 5), reads.slice(-2)], ['skip', 'skip', [3, 2]]);

      // What is remembered is weighed anew as it grows, so the cache's bound holds.
      await f.knex('account_service_counts').where({ account_id: x.id }).update({ list_version: Date.now() * 1000 });
      const remembered = (catalog as unknown as { lists: LRUCache<string, object> }).lists;
      const weighed = remembered.calculatedSize;
      for (const n of [2, 3, 4, 5, 6]) await page({ q: 'keyset', sort: 'type' }, n);
      assert.ok(remembered.calculatedSize > weighed + 5 * 60, `${remembered.calculatedSize} after ${weighed}`);
    } finally {
      f.knex.removeListener('query', onQuery);
    }
  });

  it('reads the list with prepared statements on PostgreSQL, parsed once per connection and shape, prepared anew when stale (unnamed on SQLite)', async () => {
    const [x, y] = (await f.accounts(2)) as [Account, Account];
    for (const name of ['prep one', 'prep two', 'other']) await f.service({ admin: x, tech: y }, { name });
    const postgres = f.db.client === 'pg';
    // One connection, so that what it has prepared can be read on it.
    const single = createKnex({ url: f.db.url, client: f.db.client, poolMax: 1 });
    f.db.adopt(single);
    const catalog = new ServiceCatalog({ knex: single, reader: single, accounts: f.domain.accounts, now: f.clock.now });
    const names: (string | undefined)[] = [];
    const onQuery = (data: { options?: { name?: string } }) => names.push(data.options?.name);
    single.on('query', onQuery);

    // The first visit reads the total with the page; the two after it, one shape, the remembered total.
    for (let i = 0; i < 3; i++) assert.deepEqual((await catalog.listForAccount(x.id, query())).rows.map((row) => row.name), ['other', 'prep one', 'prep two']);
    assert.deepEqual((await catalog.listForAccount(x.id, query({ q: 'PREP' }))).rows.map((row) => row.name), ['prep one', 'prep two']);
    assert.equal((await catalog.listForAccount(y.id, query({ role: 'tech' }))).rows.length, 3);
    assert.equal(names.length, 5, 'one statement per list');
    single.off('query', onQuery);

    if (!postgres) {
      assert.deepEqual(names, names.map(() => undefined), 'SQLite prepares its statements anyway');
      return;
    }
    assert.ok(names.every((name) => name !== undefined && /^list0-[\w-]{27}$/.test(name)), names.join(' '));
    assert.equal(names[1], names[2], 'the same shape, the same statement');
    assert.equal(new Set(names).size, 4);
    // (pg_prepared_statements counts a statement's runs from PostgreSQL 14 on.)
    const prepared = rowsOf<{ name: string; runs: number | string }>(
      await single.raw("SELECT name, generic_plans + custom_plans AS runs FROM pg_prepared_statements WHERE name LIKE 'list%'"),
    );
    const runs = Object.fromEntries(prepared.map((row) => [row.name, Number(row.runs)]));
    assert.deepEqual(
      names.map((name) => runs[name as string]),
      [1, 2, 2, 1, 1],
      'parsed once, then only run again',
    );

    // A statement the server no longer has as prepared: the names of a new generation are
    // prepared instead, on every connection.
    const list = async () => (await catalog.listForAccount(x.id, query())).rows.map((row) => row.name);
    single.on('query', onQuery);
    names.length = 0;
    await single.raw('DEALLOCATE ALL');
    assert.deepEqual(await list(), ['other', 'prep one', 'prep two']);
    // A change of what it answers ("cached plan must not change result type").
    await single.raw('ALTER TABLE account_service_counts ALTER COLUMN list_version TYPE numeric');
    try {
      assert.deepEqual(await list(), ['other', 'prep one', 'prep two']);
    } finally {
      await single.raw('ALTER TABLE account_service_counts ALTER COLUMN list_version TYPE bigint');
    }
    single.off('query', onQuery);
    assert.deepEqual(
      names.map((name) => name?.split('-')[0]),
      [undefined, 'list0', 'list1', undefined, 'list1', 'list2', undefined],
      names.join(' '),
    );
  });

  it('marks services with a pending request', async () => {
    const [x, n] = (await f.accounts(2)) as [Account, Account];
    const busy = await f.service({ admin: x }, { name: 'busy' });
    await f.service({ admin: x }, { name: 'quiet' });
    const pending = async () => Object.fromEntries((await f.domain.services.listForAccount(x.id, query())).rows.map((row) => [row.name, row.pending]));

    assert.deepEqual(await pending(), { busy: false, quiet: false });
    const [request] = await f.domain.requests.submit(x.id, busy.id, { tech: n.handle }, CTX);
    assert.deepEqual(await pending(), { busy: true, quiet: false });
    await f.domain.requests.cancel((request as { id: number }).id, x.id, CTX);
    assert.deepEqual(await pending(), { busy: false, quiet: false }, 'a finished request is no longer pending');
  });

  it('parses the list query string with safe defaults', () => {
    assert.deepEqual(parseListQuery({}), query());
    assert.deepEqual(parseListQuery({ q: '  shop ', type: 'vps', role: 'billing', sort: 'type', page: '3' }), query({ q: 'shop', type: 'vps', role: 'billing', sort: 'type', page: 3 }));
    assert.deepEqual(parseListQuery({ type: 'mainframe', role: 'owner', sort: 'price', page: '-2' }), query());
    assert.equal(parseListQuery({ page: '0' }).page, 1);
    assert.equal(parseListQuery({ page: ['2', '3'] }).page, 1);
    assert.equal(parseListQuery({ q: 'x'.repeat(500) }).q.length, 100);
  });

  it('validates a new service: name, type and the three handles', async () => {
    const [x] = (await f.accounts(1)) as [Account];
    const error = await rejectsField(
      f.domain.services.create({ name: '  ', type: 'spaceship', admin: x.handle, tech: 'zz999999-ovh', billing: 'nope' }),
      'name',
      'errors.service.nameRequired',
    );
    assert.equal(error.fields.type?.key, 'errors.service.type');
    assert.equal(error.fields.tech?.key, 'errors.handle.unknown');
    assert.equal(error.fields.billing?.key, 'errors.handle.format');
    assert.equal(error.fields.admin, undefined);
    await rejectsField(f.domain.services.create({ name: 'bad\nname', type: 'domain', admin: x.handle, tech: x.handle, billing: x.handle }), 'name', 'errors.service.nameFormat');
    // 200 characters that unfold into 3,600 when folded for searching: too long for the indexes.
    await rejectsField(f.domain.services.create({ name: '\ufdfa'.repeat(200), type: 'domain', admin: x.handle, tech: x.handle, billing: x.handle }), 'name', 'errors.service.nameFormat');
    // Lone surrogates (half of an emoji); a whole one is a character like any other.
    for (const name of ['half-\ud83d.pt', '\ude00tail.pt']) {
      await rejectsField(f.domain.services.create({ name, type: 'domain', admin: x.handle, tech: x.handle, billing: x.handle }), 'name', 'errors.service.nameFormat');
    }
    assert.equal((await f.domain.services.create({ name: 'smile-\ud83d\ude00.pt', type: 'domain', admin: x.handle, tech: x.handle, billing: x.handle })).name, 'smile-😀.pt');
    assert.equal((await f.domain.services.create({ name: 'é'.repeat(200), type: 'domain', admin: x.handle, tech: x.handle, billing: x.handle })).name.length, 200);
    assert.ok(error instanceof ValidationError);
    const created = await f.domain.services.create({ name: ' ok.example ', type: 'domain', admin: x.handle.toUpperCase(), tech: x.handle, billing: x.handle });
    assert.equal(created.name, 'ok.example');
    assert.deepEqual([created.admin.id, created.tech.id, created.billing.id], [x.id, x.id, x.id]);
  });
});
