import assert from 'node:assert/strict';
import { ValidationError } from '../../src/domain/errors.js';
import { CTX, DomainFixture, nextHandle, PASSWORD, rejectsField } from '../helpers/domain-fixtures.js';
import { untilALockIsAwaited } from '../helpers/test-database.js';

describe('domain: accounts', () => {
  let f: DomainFixture;

  before(async () => {
    f = await DomainFixture.create();
  });
  after(() => f.close());

  async function accountCount(): Promise<number> {
    const row = (await f.knex('accounts').count({ n: '*' }).first()) as { n: number | string };
    return Number(row.n);
  }

  it('creates an account with a normalized handle and a hashed password', async () => {
    const handle = nextHandle('ab');
    const account = await f.domain.accounts.create({
      handle: `  ${handle.toUpperCase()} `,
      email: ` ${handle}@example.test `,
      name: '  Ana \t Silva ',
      locale: 'pt',
      password: PASSWORD,
    });
    assert.equal(account.handle, handle);
    assert.equal(account.email, `${handle}@example.test`);
    assert.equal(account.name, 'Ana Silva');
    assert.equal(account.locale, 'pt');
    assert.equal(account.billingOverdueSince, null);
    const row = (await f.knex('accounts').where({ id: account.id }).first('password_hash')) as { password_hash: string };
    assert.match(row.password_hash, /^\$argon2id\$/);
    assert.ok(!row.password_hash.includes(PASSWORD));
    assert.equal((await f.domain.accounts.findByHandle(handle.toUpperCase()))?.id, account.id);
  });

  it('refuses a malformed handle', async () => {
    const before = await accountCount();
    for (const handle of ['abc', 'a1-ovh', 'ab-ovh', 'ab123456789-ovh', 'ab123-xyz', 'ab 123-ovh', '12ab-ovh']) {
      await rejectsField(f.domain.accounts.create({ handle, email: 'x@example.test', password: PASSWORD }), 'handle', 'errors.handle.format', { suffix: 'ovh' });
    }
    await rejectsField(f.domain.accounts.create({ handle: '', email: 'x@example.test', password: PASSWORD }), 'handle', 'errors.handle.required');
    assert.equal(await accountCount(), before);
  });

  it('refuses a handle that is taken, whatever its case', async () => {
    const first = await f.account();
    await rejectsField(
      f.domain.accounts.create({ handle: first.handle.toUpperCase(), email: 'other@example.test', password: PASSWORD }),
      'handle',
      'errors.handle.taken',
      { handle: first.handle },
    );
    assert.equal(Number(((await f.knex('accounts').where({ handle: first.handle }).count({ n: '*' }).first()) as { n: number | string }).n), 1);
  });

  it('answers two simultaneous creations of one handle with one account and a clear "taken" error', async () => {
    const handle = nextHandle();
    const results = await Promise.allSettled([
      f.domain.accounts.create({ handle, email: 'one@example.test', password: PASSWORD }),
      f.domain.accounts.create({ handle, email: 'two@example.test', password: PASSWORD }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(rejected?.reason instanceof ValidationError, String(rejected?.reason));
    assert.equal(rejected.reason.fields.handle?.key, 'errors.handle.taken');
    assert.equal(Number(((await f.knex('accounts').where({ handle }).count({ n: '*' }).first()) as { n: number | string }).n), 1);
  });

  it('refuses a bad e-mail address', async () => {
    for (const email of ['nope', 'a@b', 'two@@example.test', 'a b@example.test', 'x@example.test\r\nBcc: y@example.test']) {
      await rejectsField(f.domain.accounts.create({ handle: nextHandle('ab'), email, password: PASSWORD }), 'email', 'errors.email.format');
    }
    await rejectsField(f.domain.accounts.create({ handle: nextHandle('ab'), email: ' ', password: PASSWORD }), 'email', 'errors.email.required');
  });

  it('applies the password policy: length and common passwords', async () => {
    const make = (password: unknown) => f.domain.accounts.create({ handle: nextHandle('ab'), email: 'x@example.test', password });
    await rejectsField(make('short pass'), 'password', 'errors.password.tooShort', { min: 12 });
    await rejectsField(make('1qaz2wsx3edc'), 'password', 'errors.password.common');
    await rejectsField(make('QWERTY123456'), 'password', 'errors.password.common');
    await rejectsField(make('x'.repeat(257)), 'password', 'errors.password.tooLong');
    await rejectsField(make(''), 'password', 'errors.password.required');
    await rejectsField(make(undefined), 'password', 'errors.password.required');
    // Twelve characters counted as characters, not bytes.
    await rejectsField(make('ééééééééééé'), 'password', 'errors.password.tooShort');
  });

  it('reports every bad field at once and writes nothing', async () => {
    const before = await accountCount();
    let caught: unknown;
    try {
      await f.domain.accounts.create({ handle: 'bad', email: 'bad', locale: 'fr', password: 'short' });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ValidationError);
    assert.deepEqual(Object.fromEntries(Object.entries(caught.fields).map(([field, message]) => [field, message.key])), {
      handle: 'errors.handle.format',
      email: 'errors.email.format',
      locale: 'errors.locale',
      password: 'errors.password.tooShort',
    });
    assert.equal(await accountCount(), before);
  });

  it('authenticates the right password only, and an unknown handle never', async () => {
    const account = await f.account();
    assert.equal((await f.domain.accounts.authenticate(account.handle, PASSWORD))?.id, account.id);
    assert.equal((await f.domain.accounts.authenticate(` ${account.handle.toUpperCase()} `, PASSWORD))?.id, account.id);
    assert.equal(await f.domain.accounts.authenticate(account.handle, 'wrong horse battery staple'), undefined);
    assert.equal(await f.domain.accounts.authenticate(account.handle, ''), undefined);
    assert.equal(await f.domain.accounts.authenticate('zz999999-ovh', PASSWORD), undefined);
    assert.equal(await f.domain.accounts.authenticate(undefined, PASSWORD), undefined);
  });

  it('changes the e-mail address only with the current password, and audits it', async () => {
    const account = await f.account();
    await rejectsField(f.domain.accounts.changeEmail(account.id, { email: 'new@example.test', password: 'not my password' }, CTX), 'password', 'errors.password.wrong');
    await rejectsField(f.domain.accounts.changeEmail(account.id, { email: 'broken', password: PASSWORD }, CTX), 'email', 'errors.email.format');
    assert.equal((await f.domain.accounts.findById(account.id))?.email, account.email);
    assert.equal(Number(((await f.knex('audit_log').where({ account_id: account.id }).count({ n: '*' }).first()) as { n: number | string }).n), 0);

    const changed = await f.domain.accounts.changeEmail(account.id, { email: ' new@example.test ', password: PASSWORD }, CTX);
    assert.equal(changed.email, 'new@example.test');
    const audit = (await f.knex('audit_log').where({ account_id: account.id }).select('action', 'ip')) as { action: string; ip: string }[];
    assert.deepEqual(audit, [{ action: 'profile.email', ip: CTX.ip }]);
  });

  it('tells the address an account had that it was changed, in the change’s transaction, and only when it changed', async () => {
    const account = await f.account();
    await f.knex('accounts').where({ id: account.id }).update({ locale: 'pt', time_zone: 'Asia/Tokyo', name: 'Ana Antunes' });
    const mailsOf = async () =>
      (await f.knex('outbox').where({ kind: 'account.emailChanged' }).whereIn('recipient_address', [account.email, 'second@example.test']).orderBy('id').select('recipient_address', 'recipient_name', 'locale', 'time_zone', 'request_id', 'payload', 'status')) as {
        recipient_address: string;
        payload: string;
      }[];
    await rejectsField(f.domain.accounts.changeEmail(account.id, { email: 'other@example.test', password: 'not my password' }, CTX), 'password', 'errors.password.wrong');
    assert.deepEqual(await mailsOf(), [], 'nothing changed, nothing told');

    await f.domain.accounts.changeEmail(account.id, { email: 'second@example.test', password: PASSWORD }, CTX);
    const [mail, ...more] = await mailsOf();
    assert.equal(more.length, 0);
    assert.deepEqual({ ...mail, payload: undefined }, {
      recipient_address: account.email,
      recipient_name: 'Ana Antunes',
      locale: 'pt',
      time_zone: 'Asia/Tokyo',
      request_id: null,
      payload: undefined,
      status: 'pending',
    });
    const payload = JSON.parse(mail?.payload ?? '{}') as { handle: string; newEmail: string; changedAt: number };
    assert.equal(payload.handle, account.handle);
    assert.equal(payload.newEmail, 'second@example.test');
    assert.equal(payload.changedAt, f.domain.now());

    // The same address again changes nothing worth telling.
    await f.domain.accounts.changeEmail(account.id, { email: 'second@example.test', password: PASSWORD }, CTX);
    assert.equal((await mailsOf()).length, 1);

    // Without its mail, the change does not happen either (one transaction).
    await f.knex.raw('ALTER TABLE outbox RENAME TO outbox_away');
    try {
      await assert.rejects(f.domain.accounts.changeEmail(account.id, { email: 'third@example.test', password: PASSWORD }, CTX));
    } finally {
      await f.knex.raw('ALTER TABLE outbox_away RENAME TO outbox');
    }
    assert.equal((await f.domain.accounts.findById(account.id))?.email, 'second@example.test');
    assert.equal((await f.knex('audit_log').where({ account_id: account.id, action: 'profile.email' }).count({ n: '*' }).first() as { n: number | string }).n, 2);
  });

  it('two changes of one address at once tell each previous address in turn', async () => {
    const account = await f.account();
    const [b, c] = [`b-${account.handle}@example.test`, `c-${account.handle}@example.test`];
    // Another connection holds the account's row (SQLite: the write lock) while both changes start.
    const other = f.db.connect();
    const changes: Promise<unknown>[] = [];
    try {
      const holder = await other.transaction();
      await holder('accounts').where({ id: account.id }).update({ updated_at: f.clock.now() });
      for (const email of [b, c]) changes.push(f.domain.accounts.changeEmail(account.id, { email, password: PASSWORD }, CTX));
      // Until both wait for that row, past their password checks.
      const seen = await untilALockIsAwaited(f.db, 1500, 2);
      if (f.db.client === 'pg') assert.ok(seen, 'both changes waited for the row');
      await holder.commit();
      await Promise.all(changes);
    } finally {
      await Promise.allSettled(changes);
      await other.destroy();
    }
    const notices = (await f.knex('outbox').where({ kind: 'account.emailChanged' }).whereIn('recipient_address', [account.email, b, c]).orderBy('id').select('recipient_address', 'payload')) as { recipient_address: string; payload: string }[];
    const chain = notices.map((notice) => [notice.recipient_address, (JSON.parse(notice.payload) as { newEmail: string }).newEmail]);
    const final = (await f.domain.accounts.findById(account.id))?.email;
    // A→B then B→C, or A→C then C→B: never two notices to A, and the last one names the address kept.
    assert.equal(chain.length, 2);
    assert.equal(chain[0]?.[0], account.email);
    assert.equal(chain[1]?.[0], chain[0]?.[1]);
    assert.equal(chain[1]?.[1], final);
    assert.deepEqual([chain[0]?.[1], final].sort(), [b, c].sort());
  });

  it('changes the password with the current one and the policy; the old one stops working', async () => {
    const account = await f.account();
    const next = 'a brand new passphrase for me';
    await rejectsField(f.domain.accounts.changePassword(account.id, { currentPassword: 'wrong', newPassword: next }, CTX), 'currentPassword', 'errors.password.wrong');
    await rejectsField(f.domain.accounts.changePassword(account.id, { currentPassword: PASSWORD, newPassword: 'short' }, CTX), 'newPassword', 'errors.password.tooShort');
    await rejectsField(f.domain.accounts.changePassword(account.id, { currentPassword: PASSWORD, newPassword: 'qwerty123456' }, CTX), 'newPassword', 'errors.password.common');
    assert.equal((await f.domain.accounts.authenticate(account.handle, PASSWORD))?.id, account.id, 'unchanged after refusals');

    await f.domain.accounts.changePassword(account.id, { currentPassword: PASSWORD, newPassword: next }, CTX);
    assert.equal(await f.domain.accounts.authenticate(account.handle, PASSWORD), undefined);
    assert.equal((await f.domain.accounts.authenticate(account.handle, next))?.id, account.id);
    const audit = (await f.knex('audit_log').where({ account_id: account.id }).select('action')) as { action: string }[];
    assert.deepEqual(audit, [{ action: 'profile.password' }]);
  });

  it('marks payments overdue since a moment, keeps that moment, and clears it', async () => {
    const account = await f.account();
    const since = f.clock.now();
    assert.equal((await f.domain.accounts.setBillingStatus(account.handle, true)).billingOverdueSince, since);
    f.clock.advance(60_000);
    assert.equal((await f.domain.accounts.setBillingStatus(account.handle.toUpperCase(), true)).billingOverdueSince, since, 'still overdue since the first time');
    assert.equal((await f.domain.accounts.setBillingStatus(account.handle, false)).billingOverdueSince, null);
    await rejectsField(f.domain.accounts.setBillingStatus('zz999999-ovh', true), 'handle', 'errors.handle.unknown');
  });

  it('changes the time zone to one Intl knows, or back to automatic, and audits it', async () => {
    const account = await f.account();
    assert.equal(account.timeZone, null, 'automatic by default');
    const audits = async () =>
      (await f.knex('audit_log').where({ account_id: account.id }).orderBy('id').select('action', 'ip', 'detail')) as { action: string; ip: string; detail: string }[];

    for (const zone of ['Mars/Olympus_Mons', '+01:00', 'Lisbon', 'Europe/Lisbon ', 'x'.repeat(65), 'Europe/../etc', 42, undefined, {}]) {
      await rejectsField(f.domain.accounts.changeTimeZone(account.id, zone, CTX), 'timeZone', 'errors.timeZone');
    }
    assert.equal((await f.domain.accounts.findById(account.id))?.timeZone, null);
    assert.deepEqual(await audits(), [], 'refusals change and audit nothing');

    assert.equal((await f.domain.accounts.changeTimeZone(account.id, 'Asia/Tokyo', CTX)).timeZone, 'Asia/Tokyo');
    assert.equal((await f.domain.accounts.findById(account.id))?.timeZone, 'Asia/Tokyo');
    // Stored as Intl names it; names Intl knows without listing them (UTC) are fine too.
    assert.equal((await f.domain.accounts.changeTimeZone(account.id, 'america/new_york', CTX)).timeZone, 'America/New_York');
    assert.equal((await f.domain.accounts.changeTimeZone(account.id, 'UTC', CTX)).timeZone, 'UTC');
    assert.equal((await f.domain.accounts.changeTimeZone(account.id, '', CTX)).timeZone, null, 'empty = automatic');
    const row = (await f.knex('accounts').where({ id: account.id }).first('time_zone')) as { time_zone: string | null };
    assert.equal(row.time_zone, null);
    assert.deepEqual(
      (await audits()).map((entry) => [entry.action, entry.ip, JSON.parse(entry.detail) as unknown]),
      [
        ['profile.timeZone', CTX.ip, { timeZone: 'Asia/Tokyo' }],
        ['profile.timeZone', CTX.ip, { timeZone: 'America/New_York' }],
        ['profile.timeZone', CTX.ip, { timeZone: 'UTC' }],
        ['profile.timeZone', CTX.ip, { timeZone: null }],
      ],
    );
  });

  it('reads a stored zone this runtime does not know as automatic', async () => {
    const account = await f.account();
    await f.knex('accounts').where({ id: account.id }).update({ time_zone: 'Atlantis/Capital' });
    assert.equal((await f.domain.accounts.findById(account.id))?.timeZone, null);
    await f.knex('accounts').where({ id: account.id }).update({ time_zone: 'Europe/Lisbon' });
    assert.equal((await f.domain.accounts.findByHandle(account.handle))?.timeZone, 'Europe/Lisbon');
  });

  it('changes the locale to a supported one only', async () => {
    const account = await f.account();
    await f.domain.accounts.changeLocale(account.id, 'pt');
    assert.equal((await f.domain.accounts.findById(account.id))?.locale, 'pt');
    await rejectsField(f.domain.accounts.changeLocale(account.id, 'xx'), 'locale', 'errors.locale');
    assert.equal((await f.domain.accounts.findById(account.id))?.locale, 'pt');
  });
});
