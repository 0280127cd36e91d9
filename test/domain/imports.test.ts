import assert from 'node:assert/strict';
import {
  ACCOUNT_IMPORT_HEADER,
  importAccounts,
  importServices,
  ImportError,
  RecordSourceError,
  SERVICE_IMPORT_HEADER,
  unusablePasswordHash,
  type ImportProblem,
  type ImportProgress,
  type ImportRecord,
} from '../../src/domain/imports.js';
import { hashPassword, verifyPassword } from '../../src/domain/passwords.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/** Records as a CSV reader would give them: the header on line 1, then one line per row. */
async function* records(header: readonly string[], rows: (string[] | ImportRecord)[]): AsyncGenerator<ImportRecord> {
  yield { line: 1, fields: [...header] };
  let line = 1;
  for (const row of rows) {
    line += 1;
    yield Array.isArray(row) ? { line, fields: row } : row;
  }
}

async function problemsOf(promise: Promise<unknown>): Promise<ImportProblem[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImportError, String(error));
    return error.problems;
  }
  assert.fail('expected an ImportError');
}

const summary = (problems: ImportProblem[]) => problems.map((p) => `${p.line}:${p.field ?? '-'}:${p.message.key}`);

describe('imports', () => {
  let db: TestDatabase;
  let argonHash: string;
  const count = async (table: string) => Number(((await db.knex(table).count({ n: '*' }).first()) as { n: number | string }).n);

  before(async () => {
    db = await createTestDatabase();
    argonHash = await hashPassword('kept from the old system');
  });
  after(() => db.destroy());

  const options = (extra: Partial<Parameters<typeof importAccounts>[1]> = {}) => ({ knex: db.knex, handleSuffix: 'ovh', now: () => 1_800_000_000_000, ...extra });

  describe('importAccounts', () => {
    it('writes in batches and reports progress while reading and writing', async () => {
      const progress: ImportProgress[] = [];
      const rows = Array.from({ length: 25 }, (_, i) => [`pr${i}-ovh`, `p${i}@example.com`, `P ${i}`, '', '']);
      const result = await importAccounts(records(ACCOUNT_IMPORT_HEADER, rows), options({ batchSize: 7, progressEvery: 10, onProgress: (p) => progress.push(p) }));
      assert.deepEqual(result, { rows: 25, hashed: 0, kept: 0, locked: 25 });
      assert.deepEqual(progress, [
        { phase: 'read', done: 10, total: undefined },
        { phase: 'read', done: 20, total: undefined },
        { phase: 'read', done: 25, total: undefined },
        { phase: 'write', done: 14, total: 25 },
        { phase: 'write', done: 21, total: 25 },
        { phase: 'write', done: 25, total: 25 },
      ]);
      const row = (await db.knex('accounts').where({ handle: 'pr24-ovh' }).first()) as Record<string, unknown>;
      assert.equal(row.locale, 'en');
      assert.equal(row.name, 'P 24');
      assert.equal(Number(row.created_at), 1_800_000_000_000);
    });

    it('hashes plain-text passwords, keeps argon2id hashes (even unquoted) and locks accounts without one', async () => {
      const [m, rest] = argonHash.split(/,(.*)/s) as [string, string];
      const [t, p] = rest.split(/,(.*)/s) as [string, string];
      const result = await importAccounts(
        records(ACCOUNT_IMPORT_HEADER, [
          ['hp1-ovh', 'a@example.com', 'A', 'pt', 'a plain password here'],
          ['hp2-ovh', 'b@example.com', 'B', 'en', argonHash],
          ['hp3-ovh', 'c@example.com', 'C', 'en', m, t, p],
          ['hp4-ovh', 'd@example.com', 'D', 'en', ''],
        ]),
        options(),
      );
      assert.deepEqual(result, { rows: 4, hashed: 1, kept: 2, locked: 1 });
      const hashes = Object.fromEntries(
        ((await db.knex('accounts').whereIn('handle', ['hp1-ovh', 'hp2-ovh', 'hp3-ovh', 'hp4-ovh']).select('handle', 'password_hash')) as { handle: string; password_hash: string }[]).map(
          (row) => [row.handle, row.password_hash],
        ),
      );
      assert.ok(await verifyPassword(hashes['hp1-ovh'] as string, 'a plain password here'));
      assert.equal(hashes['hp2-ovh'], argonHash);
      assert.equal(hashes['hp3-ovh'], argonHash);
      assert.ok(await verifyPassword(hashes['hp3-ovh'] as string, 'kept from the old system'));
      assert.equal(await verifyPassword(hashes['hp4-ovh'] as string, ''), false);
    });

    it('refuses an argon2id hash whose costs no login could afford or verify, line by line', async () => {
      const salt = 'c2FsdHNhbHRzYWx0c2FsdA';
      const digest = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const hash = (costs: string) => `$argon2id$v=19$${costs}$${salt}$${digest}`;
      const before = await count('accounts');
      const problems = await problemsOf(
        importAccounts(
          records(ACCOUNT_IMPORT_HEADER, [
            ['ac1-ovh', 'ac1@example.com', '', 'en', hash('m=4194304,t=3,p=1')],
            ['ac2-ovh', 'ac2@example.com', '', 'en', hash('m=4,t=3,p=1')],
            ['ac3-ovh', 'ac3@example.com', '', 'en', hash('m=64,t=3,p=16')],
            ['ac4-ovh', 'ac4@example.com', '', 'en', hash('m=19456,t=0,p=1')],
            ['ac5-ovh', 'ac5@example.com', '', 'en', hash('m=65536,p=4,t=3')],
          ]),
          options(),
        ),
      );
      assert.deepEqual(summary(problems), ['2:password:cli.import.passwordHashCosts', '3:password:cli.import.passwordHashCosts', '4:password:cli.import.passwordHashCosts', '5:password:cli.import.passwordHashCosts']);
      assert.deepEqual(problems[0]?.message.params, { maxMemory: 262144, maxTime: 16, maxParallelism: 16 });
      assert.equal(await count('accounts'), before);
    });

    it('collects every problem of every line and writes nothing', async () => {
      const before = await count('accounts');
      const problems = await problemsOf(
        importAccounts(
          records(ACCOUNT_IMPORT_HEADER, [
            ['ok1-ovh', 'ok@example.com', '', '', ''],
            ['x-ovh', 'bad', '', 'de', 'short'],
            ['ok1-ovh', 'ok@example.com', '', '', ''],
            ['hp1-ovh', 'taken@example.com', '', '', ''],
            ['only', 'three', 'fields'],
            { line: 7, fields: [], problem: { key: 'cli.import.badQuote' } },
            ['ok2-ovh', 'ok@example.com', '', '', 'password'],
          ]),
          options(),
        ),
      );
      assert.deepEqual(summary(problems), [
        '3:handle:errors.handle.format',
        '3:email:errors.email.format',
        '3:locale:errors.locale',
        '3:password:errors.password.tooShort',
        '4:handle:cli.import.duplicateHandle',
        '5:handle:errors.handle.taken',
        '6:-:cli.import.columnCount',
        '7:-:cli.import.badQuote',
        '8:password:errors.password.tooShort',
      ]);
      assert.deepEqual(problems[4]?.message.params, { handle: 'ok1-ovh', line: 2 });
      assert.equal(await count('accounts'), before);
    });

    it('stops at a wrong header or an empty source, and turns a source failure into a problem', async () => {
      assert.deepEqual(summary(await problemsOf(importAccounts(records(['handle', 'email'], [['a', 'b']]), options()))), ['1:-:cli.import.header']);
      // A missing header: the first row is data, possibly with a password, and is not echoed.
      const noHeader = await problemsOf(importAccounts(records(['ab1-ovh', 'a@example.com', '', 'en', 'my secret password'], []), options()));
      assert.deepEqual(summary(noHeader), ['1:-:cli.import.noHeader']);
      assert.doesNotMatch(JSON.stringify(noHeader), /secret/);
      assert.deepEqual(summary(await problemsOf(importAccounts((async function* () {})(), options()))), ['1:-:cli.import.empty']);
      async function* broken(): AsyncGenerator<ImportRecord> {
        yield { line: 1, fields: [...ACCOUNT_IMPORT_HEADER] };
        yield { line: 2, fields: ['zz1-ovh', 'bad', '', '', ''] };
        throw new RecordSourceError(3, { key: 'cli.import.quoteNotClosed' });
      }
      assert.deepEqual(summary(await problemsOf(importAccounts(broken(), options()))), ['2:email:errors.email.format', '3:-:cli.import.quoteNotClosed']);
    });

    it('makes unusable hashes that differ every time and look like any other', () => {
      const [a, b] = [unusablePasswordHash(), unusablePasswordHash()];
      assert.notEqual(a, b);
      assert.match(a, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    });
  });

  describe('importServices', () => {
    it('resolves the contacts by handle and writes every row', async () => {
      const result = await importServices(
        records(SERVICE_IMPORT_HEADER, [
          ['exemple-boutique.pt', 'domain', 'pr1-ovh', 'PR2-ovh', 'pr3-ovh'],
          ['Música-Loja.pt', 'hosting', 'pr1-ovh', 'pr1-ovh', 'pr1-ovh'],
        ]),
        options({ batchSize: 1 }),
      );
      assert.deepEqual(result, { rows: 2 });
      const rows = (await db.knex('services as s').join('accounts as t', 't.id', 's.tech_id').orderBy('s.id').select('s.type', 't.handle', 's.search_name')) as {
        type: string;
        handle: string;
        search_name: string;
      }[];
      assert.deepEqual(rows, [
        { type: 'domain', handle: 'pr2-ovh', search_name: 'exemple-boutique.pt' },
        { type: 'hosting', handle: 'pr1-ovh', search_name: 'musica-loja.pt' },
      ]);
    });

    it('collects bad names, types and handles, unknown handles included, and writes nothing', async () => {
      const before = await count('services');
      const problems = await problemsOf(
        importServices(
          records(SERVICE_IMPORT_HEADER, [
            ['ok.pt', 'domain', 'pr1-ovh', 'pr1-ovh', 'pr1-ovh'],
            ['', 'mainframe', 'pr1-ovh', 'bad', 'pr1-ovh'],
            ['unknown.pt', 'vps', 'zz404-ovh', 'pr1-ovh', 'zz405-ovh'],
            ['short.pt', 'vps'],
            ['\ufdfa'.repeat(200), 'domain', 'pr1-ovh', 'pr1-ovh', 'pr1-ovh'],
          ]),
          options(),
        ),
      );
      assert.deepEqual(summary(problems), [
        '3:name:errors.service.nameRequired',
        '3:type:errors.service.type',
        '3:tech:errors.handle.format',
        '4:admin:errors.handle.unknown',
        '4:billing:errors.handle.unknown',
        '5:-:cli.import.columnCount',
        '6:name:errors.service.nameFormat',
      ]);
      assert.equal(await count('services'), before);
    });
  });
});
