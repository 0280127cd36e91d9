// The rate limits' counters share the app's database (and, on SQLite, its one connection): counting
// must neither break nor join the app's own transactions.
import assert from 'node:assert/strict';
import { RateLimitedError } from '../../src/domain/errors.js';
import { clientKey, createRateLimits } from '../../src/web/middleware/rate-limits.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('web: rate limits in the database', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.destroy());

  it('counts while the app runs its own transactions on the same connection', async () => {
    const limits = createRateLimits(db.knex);
    await db.knex.schema.createTable('probe_items', (table) => {
      table.increments('id');
      table.integer('n').notNullable();
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? limits.beginLogin(`handle-${i % 4}`, '192.0.2.1')
          : db.knex.transaction(async (trx) => {
              await trx('probe_items').insert({ n: i });
              // A rollback must take back only this transaction's own row.
              if (i % 3 === 0) throw new Error('rolled back on purpose');
            }),
      ),
    );
    const unexpected = outcomes.flatMap((outcome) => (outcome.status === 'rejected' && !/on purpose/.test(String(outcome.reason)) ? [String(outcome.reason)] : []));
    assert.deepEqual(unexpected, []);
    const kept = ((await db.knex('probe_items').orderBy('n').select('n')) as { n: number }[]).map((row) => row.n);
    assert.deepEqual(kept, Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 !== 0));
    // Every attempt was counted: 20 attempts over 2 handles, 10 each, the limit of a handle and IP.
    const counted = (await db.knex('rate_limits').where('key', 'like', 'login_ip:%').select('key', 'points')) as { key: string; points: number }[];
    assert.deepEqual(counted.map((row) => Number(row.points)).sort(), [10, 10]);
    await assert.rejects(limits.beginLogin('handle-0', '192.0.2.1'), RateLimitedError);
    await limits.beginLogin('handle-1', '192.0.2.2');
  });

  it('counts a login attempt before its password is checked: of 25 at once, 10 get through', async () => {
    const limits = createRateLimits(db.knex);
    const outcomes = await Promise.allSettled(Array.from({ length: 25 }, () => limits.beginLogin('aa1-ovh', '192.0.2.1')));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
    assert.ok(outcomes.filter((outcome) => outcome.status === 'rejected').every((outcome) => outcome.reason instanceof RateLimitedError));
  });

  it('a correct password takes the attempt back; a client trying many handles is stopped, per IPv4 address or IPv6 /64', async () => {
    const limits = createRateLimits(db.knex);
    for (let i = 0; i < 9; i++) await limits.beginLogin('aa1-ovh', '192.0.2.1');
    await limits.loginSucceeded(await limits.beginLogin('aa1-ovh', '192.0.2.1'));
    // The handle and IP counter starts again after a success.
    for (let i = 0; i < 10; i++) await limits.beginLogin('aa1-ovh', '192.0.2.1');
    await assert.rejects(limits.beginLogin('aa1-ovh', '192.0.2.1'), RateLimitedError);

    // 50 attempts per client over any handles, each address of a /64 counting for the network.
    for (let i = 0; i < 50; i++) await limits.beginLogin(`bb${i}-ovh`, `2001:db8:0:7::${(i + 1).toString(16)}`);
    await assert.rejects(limits.beginLogin('cc1-ovh', '2001:db8:0:7:ffff::1'), RateLimitedError);
    await limits.beginLogin('cc1-ovh', '2001:db8:0:8::1');
  });

  it('a client refused for its own attempts does not count against the handle: alone it cannot lock the owner out', async () => {
    const limits = createRateLimits(db.knex);
    const outcomes = await Promise.allSettled(Array.from({ length: 120 }, () => limits.beginLogin('aa1-ovh', '192.0.2.1')));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
    const [handleCounter] = (await db.knex('rate_limits').where({ key: 'login_handle:aa1-ovh' }).pluck('points')) as number[];
    assert.equal(Number(handleCounter), 10);
    await limits.beginLogin('aa1-ovh', '198.51.100.7');
  });

  it('a trusted device counts on its own: a handle refused everywhere, or a client at its limit, still lets it try', async () => {
    const limits = createRateLimits(db.knex);
    const points = async (key: string) => Number((await db.knex('rate_limits').where({ key }).first('points'))?.points ?? -1);
    // 100 attempts from ten clients lock the handle out for everyone else.
    for (let client = 1; client <= 10; client++) for (let i = 0; i < 10; i++) await limits.beginLogin('aa1-ovh', `192.0.2.${client}`);
    await assert.rejects(limits.beginLogin('aa1-ovh', '198.51.100.7'), RateLimitedError);
    assert.equal(await points('login_handle:aa1-ovh'), 101, 'the 100, and the refused attempt without a device');
    // The owner's browser, from anywhere: ten attempts per 15 minutes of its own, on nothing else.
    for (let i = 0; i < 10; i++) assert.deepEqual(await limits.beginLogin('aa1-ovh', '198.51.100.8', 'device-of-the-owner'), { handle: 'aa1-ovh', client: '198.51.100.8', device: 'device-of-the-owner' });
    assert.equal(await points('login_handle:aa1-ovh'), 101);
    assert.equal(await points('login_client:198.51.100.8'), -1, 'no row: the client was not counted');
    assert.equal(await points('login_device:device-of-the-owner'), 10);
    // Past them the device is trusted no more: its attempt counts like anyone's, and the handle is locked.
    await assert.rejects(limits.beginLogin('aa1-ovh', '198.51.100.8', 'device-of-the-owner'), RateLimitedError);
    assert.equal(await points('login_client:198.51.100.8'), 1);
    // Another trusted device is not affected, and its success takes its count back, and only its.
    const attempt = await limits.beginLogin('aa1-ovh', '198.51.100.9', 'another-device');
    await limits.loginSucceeded(attempt);
    assert.equal(await points('login_device:another-device'), -1);
    assert.equal(await points('login_handle:aa1-ovh'), 102);

    // A device past its ten on a handle that is not locked: let through, counted as any client.
    for (let i = 0; i < 10; i++) await limits.beginLogin('dd1-ovh', '198.51.100.10', 'device-d');
    assert.deepEqual(await limits.beginLogin('dd1-ovh', '198.51.100.10', 'device-d'), { handle: 'dd1-ovh', client: '198.51.100.10' });
    assert.equal(await points('login_handle:dd1-ovh'), 1);

    // A client at its limit over many handles (a shared address) does not stop a trusted device behind it.
    for (let i = 0; i < 50; i++) await limits.beginLogin(`bb${i}-ovh`, '203.0.113.9');
    await assert.rejects(limits.beginLogin('cc1-ovh', '203.0.113.9'), RateLimitedError);
    await limits.beginLogin('cc1-ovh', '203.0.113.9', 'device-behind-the-nat');
  });

  it('counts wrong tokens per party of a request, so one party cannot lock the other out', async () => {
    const limits = createRateLimits(db.knex);
    for (let i = 0; i < 10; i++) await limits.tokenFailed(5, 1, `192.0.2.${i}`);
    await assert.rejects(limits.checkToken(5, 1, '192.0.2.100'), RateLimitedError);
    await limits.checkToken(5, 2, '192.0.2.101');
    await limits.checkToken(6, 1, '192.0.2.102');
  });

  it('keys a client by its IPv4 address or its IPv6 /64', () => {
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('2001:db8:0:7::1'), '2001:db8:0:7::/64');
    assert.equal(clientKey('2001:0db8:0000:0007:ffff:ffff:ffff:ffff'), '2001:db8:0:7::/64');
    assert.equal(clientKey('unknown'), 'unknown');
  });

  it('counts concurrent consumptions of one key exactly, and refuses past the limit', async () => {
    const limits = createRateLimits(db.knex);
    // 10 resends per account and hour.
    const outcomes = await Promise.allSettled(Array.from({ length: 14 }, () => limits.consumeResend(7)));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
    assert.ok(outcomes.filter((outcome) => outcome.status === 'rejected').every((outcome) => outcome.reason instanceof RateLimitedError));
  });
});
