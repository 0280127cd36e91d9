import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword, verifyPassword } from '../../src/domain/passwords.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { countRows, runCli, scratchDir, snapshot } from './run-cli.js';

const ACCOUNTS_HEADER = 'handle,email,name,locale,password';
const SERVICES_HEADER = 'name,type,admin,tech,billing';

describe('cli accounts:import and services:import', () => {
  let db: TestDatabase;
  let dir: string;
  let argonHash: string;
  before(async () => {
    db = await createTestDatabase();
    dir = scratchDir();
    argonHash = await hashPassword('imported from the old system');
  });
  after(() => db.destroy());

  const csv = (name: string, lines: string[]): string => {
    const file = path.join(dir, name);
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  };
  const passwordHashOf = async (handle: string) =>
    ((await db.knex('accounts').where({ handle }).first('password_hash')) as { password_hash: string }).password_hash;

  it('imports accounts with a plain-text password, an argon2id hash (quoted or not) or none', async () => {
    const file = csv('accounts.csv', [
      ACCOUNTS_HEADER,
      'ab1-ovh,ana@example.com,"Costa, Ana",pt,a long plain password',
      `cd2-ovh,carl@example.com,Carl,en,"${argonHash}"`,
      `ef3-ovh,eve@example.com,Eve,,${argonHash}`,
      'gh4-ovh,gus@example.com,,en,',
    ]);
    const result = await runCli(db.url, ['accounts:import', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Accounts imported from .*accounts\.csv: 4 \(in [\d.]+ s\)\./);
    assert.match(result.stdout, /Passwords: 1 hashed, 2 existing hashes kept, 1 accounts without a password/);
    const ana = (await db.knex('accounts').where({ handle: 'ab1-ovh' }).first()) as { name: string; locale: string; password_hash: string };
    assert.equal(ana.name, 'Costa, Ana');
    assert.equal(ana.locale, 'pt');
    assert.ok(await verifyPassword(ana.password_hash, 'a long plain password'));
    assert.equal(await passwordHashOf('cd2-ovh'), argonHash);
    assert.equal(await passwordHashOf('ef3-ovh'), argonHash);
    const locked = await passwordHashOf('gh4-ovh');
    assert.match(locked, /^\$argon2id\$/);
    assert.equal(await verifyPassword(locked, ''), false);
  });

  it('lists every bad account line with its number and writes nothing', async () => {
    const before = await snapshot(db.knex);
    const file = csv('bad-accounts.csv', [
      ACCOUNTS_HEADER,
      'ij5-ovh,ivy@example.com,Ivy,en,a long plain password', // 2: fine
      'ab-5-ovh,x@example.com,,en,', // 3: malformed handle
      'ij5-ovh,ivy2@example.com,,en,', // 4: duplicate of line 2
      'ab1-ovh,x@example.com,,en,', // 5: already in the database
      'kl6-ovh,not-an-address,,de,short', // 6: e-mail, locale, password
      'mn7-ovh,m@example.com', // 7: column count
      'op8-ovh,o@example.com,,en,$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy', // 8: bcrypt
    ]);
    const result = await runCli(db.url, ['accounts:import', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Nothing was imported\. Problems found in .*bad-accounts\.csv: 8\./);
    const expected = [
      /^line 3: handle: A customer ID is two letters/m,
      /^line 4: handle: The customer ID ij5-ovh already appears on line 2\./m,
      /^line 5: handle: The customer ID ab1-ovh is already in use\./m,
      /^line 6: email: Enter a valid e-mail address/m,
      /^line 6: locale: The language must be "pt" or "en"\./m,
      /^line 6: password: The password must be at least 12 characters long\./m,
      /^line 7: Expected 5 columns, found 2\./m,
      /^line 8: password: This looks like a password hash but is not an argon2id hash/m,
    ];
    for (const pattern of expected) assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /^line 2:/m);
    assert.deepEqual(await snapshot(db.knex), before);
  });

  it('refuses a wrong header, a broken quote and a missing file', async () => {
    const header = await runCli(db.url, ['accounts:import', csv('header.csv', ['handle;email;name;locale;password', 'x'])]);
    assert.equal(header.code, 1);
    assert.match(header.stderr, /^line 1: The header must be exactly "handle,email,name,locale,password" \(found "handle;email;name;locale;password"\)\./m);
    const services = await runCli(db.url, ['services:import', csv('services-header.csv', [ACCOUNTS_HEADER])]);
    assert.equal(services.code, 1);
    assert.match(services.stderr, /^line 1: The header must be exactly "name,type,admin,tech,billing"/m);
    // The rows before an unreadable quote are still checked; line numbers count the quoted newline.
    const quote = await runCli(db.url, [
      'accounts:import',
      csv('quote.csv', [ACCOUNTS_HEADER, 'qr9-ovh,q@example.com,"Multi', 'line",en,', 'st1-ovh,s@example.com,,xx,', 'uv2-ovh,"open']),
    ]);
    assert.equal(quote.code, 1);
    assert.match(quote.stderr, /Problems found in .*quote\.csv: 2\.\nline 4: locale: .*\nline 5: A quoted field is never closed/);
    const missing = await runCli(db.url, ['accounts:import', path.join(dir, 'nope.csv')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /The file .*nope\.csv does not exist\./);
    // A directory is readable, but no file.
    const directory = await runCli(db.url, ['accounts:import', dir]);
    assert.equal(directory.code, 1);
    assert.equal(directory.stderr.trim(), `The file ${dir} cannot be read.`);
  });

  it('imports services, resolving the contacts by handle', async () => {
    const file = csv('services.csv', [SERVICES_HEADER, 'exemple-boutique.pt,domain,ab1-ovh,cd2-ovh,ef3-ovh', '"Hosting, Pro",hosting,AB1-ovh,ab1-ovh,ab1-ovh']);
    const result = await runCli(db.url, ['services:import', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Services imported from .*services\.csv: 2 \(in [\d.]+ s\)\./);
    const rows = (await db.knex('services as s')
      .join('accounts as a', 'a.id', 's.admin_id')
      .join('accounts as t', 't.id', 's.tech_id')
      .join('accounts as b', 'b.id', 's.billing_id')
      .orderBy('s.id')
      .select('s.name', 's.type', 'a.handle as admin', 't.handle as tech', 'b.handle as billing')) as Record<string, string>[];
    assert.deepEqual(rows, [
      { name: 'exemple-boutique.pt', type: 'domain', admin: 'ab1-ovh', tech: 'cd2-ovh', billing: 'ef3-ovh' },
      { name: 'Hosting, Pro', type: 'hosting', admin: 'ab1-ovh', tech: 'ab1-ovh', billing: 'ab1-ovh' },
    ]);
  });

  it('lists every bad service line and writes nothing, even when the only bad line is the last of 5,000', async () => {
    const before = await snapshot(db.knex);
    const bad = await runCli(db.url, [
      'services:import',
      csv('bad-services.csv', [
        SERVICES_HEADER,
        'ok.pt,domain,ab1-ovh,ab1-ovh,ab1-ovh', // 2: fine
        'x.pt,mainframe,ab1-ovh,ab1-ovh,ab1-ovh', // 3: type
        'y.pt,domain,zz9-ovh,ab1-ovh,ab1-ovh', // 4: unknown handle
        'z.pt,vps,ab1-ovh,a1-ovh,ab1-ovh', // 5: malformed handle
        ',email,ab1-ovh,ab1-ovh,ab1-ovh', // 6: no name
        'w.pt,domain,ab1-ovh,ab1-ovh', // 7: column count
      ]),
    ]);
    assert.equal(bad.code, 1);
    for (const pattern of [
      /^line 3: type: The type must be one of/m,
      /^line 4: admin: There is no account with the customer ID zz9-ovh\./m,
      /^line 5: tech: A customer ID is two letters/m,
      /^line 6: name: Enter the service name\./m,
      /^line 7: Expected 5 columns, found 4\./m,
    ]) {
      assert.match(bad.stderr, pattern);
    }

    const lines = [SERVICES_HEADER];
    for (let i = 0; i < 5000; i += 1) lines.push(`site-${i}.pt,hosting,ab1-ovh,cd2-ovh,ef3-ovh`);
    lines.push('last.pt,hosting,ab1-ovh,cd2-ovh,yz404-ovh');
    const late = await runCli(db.url, ['services:import', csv('late.csv', lines)]);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /Problems found in .*late\.csv: 1\.\nline 5002: billing: There is no account with the customer ID yz404-ovh\./);
    assert.deepEqual(await snapshot(db.knex), before);
  });

  it('imports 100,000 accounts and then 100,000 services, showing progress', async function () {
    this.timeout(180_000);
    const accounts = [ACCOUNTS_HEADER];
    // Hashes as a migration from another system brings them, or no password at all.
    for (let i = 0; i < 100_000; i += 1) accounts.push(`bk${i}-ovh,user${i}@example.com,User ${i},${i % 2 ? 'pt' : 'en'},${i % 3 ? `"${argonHash}"` : ''}`);
    const services = [SERVICES_HEADER];
    for (let i = 0; i < 100_000; i += 1) {
      services.push(`bulk-${i}.pt,domain,bk${i}-ovh,bk${(i + 1) % 100_000}-ovh,bk${(i + 2) % 100_000}-ovh`);
    }
    const accountsBefore = await countRows(db.knex, 'accounts');
    const servicesBefore = await countRows(db.knex, 'services');

    const first = await runCli(db.url, ['accounts:import', csv('bulk-accounts.csv', accounts)]);
    assert.equal(first.code, 0, first.stderr.slice(0, 2000));
    assert.match(first.stderr, /… 10000 rows read and checked/);
    assert.match(first.stderr, /… 100000 of 100000 rows written/);
    assert.match(first.stdout, /: 100000 \(in [\d.]+ s\)\./);
    assert.equal(await countRows(db.knex, 'accounts'), accountsBefore + 100_000);

    const second = await runCli(db.url, ['services:import', csv('bulk-services.csv', services)]);
    assert.equal(second.code, 0, second.stderr.slice(0, 2000));
    assert.match(second.stderr, /… 100000 of 100000 rows written/);
    assert.equal(await countRows(db.knex, 'services'), servicesBefore + 100_000);
    const sample = (await db.knex('services as s').join('accounts as b', 'b.id', 's.billing_id').where('s.name', 'bulk-99999.pt').first('b.handle')) as { handle: string };
    assert.equal(sample.handle, 'bk1-ovh');
  });
});
