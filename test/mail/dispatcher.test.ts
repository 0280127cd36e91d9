import assert from 'node:assert/strict';
import { backoffMs, createDispatcher, describeError, MAX_BACKOFF_MS, MIN_BACKOFF_MS, type DispatcherDeps } from '../../src/mail/dispatcher.js';
import type { MailTransport } from '../../src/mail/transport.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import {
  freePort,
  insertMail,
  outboxRows,
  payload,
  PUBLIC_URL,
  silentLogger,
  smtpTransport,
  startSmtpServer,
  testRenderer as renderer,
  TOKEN,
  type TestSmtpServer,
} from './mail-helpers.js';

describe('mail: dispatcher', function () {
  let db: TestDatabase;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    // Transports before servers: an SMTP server waits for open client connections when closing.
    for (const close of closers.splice(0).reverse()) await close();
    await db.destroy();
  });

  async function server(options: Parameters<typeof startSmtpServer>[0] = {}): Promise<TestSmtpServer> {
    const started = await startSmtpServer(options);
    closers.push(started.close);
    return started;
  }
  function transport(url: string): MailTransport {
    const created = smtpTransport(url);
    closers.push(() => created.close());
    return created;
  }
  function dispatcher(overrides: Partial<DispatcherDeps> & Pick<DispatcherDeps, 'transport'>) {
    return createDispatcher({ knex: db.knex, renderer, logger: silentLogger, workerId: 'worker-a', ...overrides });
  }

  it('sends due mail over SMTP and marks it sent', async () => {
    const smtp = await server();
    const ids = await insertMail(db.knex, [
      { kind: 'request.confirm', address: 'bb@example.test', name: 'Beatriz Borges', locale: 'pt' },
      { kind: 'request.inform', address: 'aa@example.test', name: 'Ana Alves' },
      { kind: 'request.done', address: 'cc@example.test', name: '' },
      { kind: 'request.done', address: 'later@example.test', nextAttemptAt: Date.now() + 60_000 },
    ]);
    const result = await dispatcher({ transport: transport(smtp.url) }).dispatchOnce();
    assert.deepEqual(result, { sent: 3, retried: 0, dead: 0, voided: 0 });

    const byTo = new Map(smtp.messages.map((m) => [m.envelopeTo.join(','), m]));
    assert.deepEqual([...byTo.keys()].sort(), ['aa@example.test', 'bb@example.test', 'cc@example.test']);
    const confirm = byTo.get('bb@example.test');
    assert.ok(confirm);
    assert.equal(confirm.messageId, `<outbox-${ids[0]}@contacts.example.com>`);
    assert.match(confirm.subject ?? '', /pedido de alteração de contactos de example\.pt/);
    assert.equal(Array.isArray(confirm.to) ? undefined : confirm.to?.value[0]?.name, 'Beatriz Borges');
    assert.equal(Array.isArray(confirm.from) ? undefined : confirm.from?.value[0]?.address, 'contacts@contacts.example.com');
    assert.deepEqual(confirm.text?.match(/https?:\/\/\S+/g), [`${PUBLIC_URL}/requests/42/confirm?token=${TOKEN}`]);
    assert.match(String(confirm.html), new RegExp(`href="${PUBLIC_URL}/requests/42/confirm\\?token=${TOKEN}"`));
    assert.equal(confirm.headers.get('auto-submitted'), 'auto-generated');
    assert.equal(byTo.get('aa@example.test')?.messageId, `<outbox-${ids[1]}@contacts.example.com>`);

    const rows = await outboxRows(db.knex);
    for (const row of rows.slice(0, 3)) {
      assert.equal(row.status, 'sent');
      assert.equal(row.attempts, 1);
      assert.equal(row.claimed_by, null);
      assert.equal(row.claimed_until, null);
      assert.ok(row.sent_at !== null && row.sent_at > 0);
    }
    assert.equal(rows[3]?.status, 'pending', 'not yet due');
    assert.equal(rows[3]?.attempts, 0);
    assert.deepEqual(await dispatcher({ transport: transport(smtp.url) }).dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 });

    // Delivered, the token leaves the outbox (tokens are kept only as hashes); the rest stays.
    const payloads = await storedPayloads();
    assert.doesNotMatch(payloads.get(ids[0] as number) ?? '', new RegExp(TOKEN));
    const { token: _sent, ...expected } = payload({ token: TOKEN });
    assert.deepEqual(JSON.parse(payloads.get(ids[0] as number) ?? ''), expected);
    assert.deepEqual(JSON.parse(payloads.get(ids[1] as number) ?? ''), payload(), 'a mail without a token is left as it was');
  });

  /** The stored payload text of every outbox row, by id. */
  async function storedPayloads(): Promise<Map<number, string>> {
    const rows = (await db.knex('outbox').select('id', 'payload')) as { id: number; payload: string }[];
    return new Map(rows.map((row) => [Number(row.id), row.payload]));
  }

  it('retries with backoff while SMTP is down, then delivers everything once it is back', async () => {
    const port = await freePort();
    await insertMail(db.knex, [{ address: 'one@example.test' }, { address: 'two@example.test' }, { kind: 'request.expired', address: 'three@example.test' }]);
    const mailer = dispatcher({ transport: transport(`smtp://127.0.0.1:${port}`) });

    const before = Date.now();
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 3, dead: 0, voided: 0 });
    let rows = await outboxRows(db.knex);
    for (const row of rows) {
      assert.equal(row.status, 'pending');
      assert.equal(row.attempts, 1);
      assert.equal(row.claimed_by, null);
      assert.ok(row.next_attempt_at >= before + MIN_BACKOFF_MS, 'scheduled later');
      assert.match(row.last_error ?? '', /ECONNREFUSED|ESOCKET|ECONNECTION/);
      assert.ok(!(row.last_error ?? '').includes(TOKEN));
    }
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 }, 'nothing due before the backoff ends');

    // Second failure: the backoff grows.
    await db.knex('outbox').update({ next_attempt_at: Date.now() });
    const second = Date.now();
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 3, dead: 0, voided: 0 });
    rows = await outboxRows(db.knex);
    for (const row of rows) {
      assert.equal(row.attempts, 2);
      assert.ok(row.next_attempt_at >= second + 1_500, 'second delay is at least 1.5 s');
    }

    const smtp = await server({ port });
    await db.knex('outbox').update({ next_attempt_at: Date.now() });
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 3, retried: 0, dead: 0, voided: 0 });
    assert.deepEqual(smtp.messages.map((m) => m.envelopeTo[0]).sort(), ['one@example.test', 'three@example.test', 'two@example.test']);
    rows = await outboxRows(db.knex);
    assert.deepEqual(
      rows.map((r) => [r.status, r.attempts]),
      [
        ['sent', 3],
        ['sent', 3],
        ['sent', 3],
      ],
    );
  });

  it('gives up after maxAttempts', async () => {
    const port = await freePort();
    await insertMail(db.knex, [{}]);
    const mailer = dispatcher({ transport: transport(`smtp://127.0.0.1:${port}`), maxAttempts: 2 });
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 1, dead: 0, voided: 0 });
    await db.knex('outbox').update({ next_attempt_at: Date.now() });
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 0, dead: 1, voided: 0 });
    const [row] = await outboxRows(db.knex);
    assert.equal(row?.status, 'dead');
    assert.equal(row?.attempts, 2);
    assert.equal(row?.claimed_by, null);
    await db.knex('outbox').update({ next_attempt_at: Date.now() });
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 }, 'dead rows are not claimed');
    // Not delivered: the token stays, so that mail:retry can still send the mail.
    assert.match([...(await storedPayloads()).values()][0] ?? '', new RegExp(TOKEN));
  });

  it('marks a mail dead at once when the server rejects the recipient with 550', async () => {
    const smtp = await server({ reject: (address) => address.startsWith('nobody@') });
    await insertMail(db.knex, [{ address: 'nobody@example.test' }, { address: 'somebody@example.test' }]);
    assert.deepEqual(await dispatcher({ transport: transport(smtp.url) }).dispatchOnce(), { sent: 1, retried: 0, dead: 1, voided: 0 });
    const [rejected, delivered] = await outboxRows(db.knex);
    assert.equal(rejected?.status, 'dead');
    assert.equal(rejected?.attempts, 1);
    assert.match(rejected?.last_error ?? '', /550/);
    assert.equal(delivered?.status, 'sent');
    assert.deepEqual(
      smtp.messages.map((m) => m.envelopeTo[0]),
      ['somebody@example.test'],
    );
  });

  it('keeps mail queued, to be retried, when the server refuses the login or the sender with a 5xx', async () => {
    for (const refuse of ['login', 'sender'] as const) {
      const smtp = await server({ refuse });
      await db.knex('outbox').delete();
      await insertMail(db.knex, [{ address: 'aa@example.test' }, { address: 'bb@example.test' }]);
      const url = refuse === 'login' ? `smtp://contacts:wrong-password@127.0.0.1:${smtp.port}` : smtp.url;
      assert.deepEqual(await dispatcher({ transport: transport(url) }).dispatchOnce(), { sent: 0, retried: 2, dead: 0, voided: 0 }, refuse);
      for (const row of await outboxRows(db.knex)) {
        assert.equal(row.status, 'pending', refuse);
        assert.equal(row.attempts, 1, refuse);
        assert.match(row.last_error ?? '', refuse === 'login' ? /535/ : /550/);
      }
      assert.deepEqual(smtp.messages, []);
    }
  });

  it('sends to a server elsewhere only over STARTTLS: none offered keeps the mail queued, unless SMTP_URL says requireTLS=false', async () => {
    // On Linux 0.0.0.0 reaches this machine's loopback server without being one of the loopback
    // names the transport exempts, so it stands for a relay elsewhere on the network.
    const plain = await server({ startTls: false });
    await insertMail(db.knex, [{ address: 'aa@example.test' }]);
    assert.deepEqual(await dispatcher({ transport: transport(`smtp://0.0.0.0:${plain.port}`) }).dispatchOnce(), { sent: 0, retried: 1, dead: 0, voided: 0 });
    const [row] = await outboxRows(db.knex);
    assert.equal(row?.status, 'pending');
    assert.match(row?.last_error ?? '', /STARTTLS|TLS/);
    assert.equal(plain.messages.length, 0);

    // The operator's explicit choice for a relay without TLS.
    await db.knex('outbox').update({ next_attempt_at: 0 });
    assert.deepEqual(await dispatcher({ transport: transport(`smtp://0.0.0.0:${plain.port}?requireTLS=false`) }).dispatchOnce(), { sent: 1, retried: 0, dead: 0, voided: 0 });
    assert.equal(plain.messages[0]?.overTls, false);

    // A server that offers STARTTLS gets the mail encrypted (its certificate is self-signed here).
    const secure = await server();
    await insertMail(db.knex, [{ address: 'bb@example.test' }]);
    assert.deepEqual(await dispatcher({ transport: transport(`smtp://0.0.0.0:${secure.port}?tls.rejectUnauthorized=false`) }).dispatchOnce(), { sent: 1, retried: 0, dead: 0, voided: 0 });
    assert.equal(secure.messages[0]?.overTls, true);
  });

  it('marks a mail dead when the server refuses its content with a 5xx', async () => {
    const smtp = await server({ refuse: 'content' });
    await insertMail(db.knex, [{ address: 'aa@example.test' }]);
    assert.deepEqual(await dispatcher({ transport: transport(smtp.url) }).dispatchOnce(), { sent: 0, retried: 0, dead: 1, voided: 0 });
    const [row] = await outboxRows(db.knex);
    assert.equal(row?.status, 'dead');
    assert.match(row?.last_error ?? '', /554/);
  });

  it('marks a mail dead without sending it when the address or the row is unusable', async () => {
    const smtp = await server();
    await insertMail(db.knex, [
      { address: 'x@example.test\r\nBcc: victim@example.test' },
      { address: 'y@example.test', name: 'Evil\nBcc: victim@example.test' },
      { kind: 'request.unknown' },
      { payload: '{broken' },
    ]);
    assert.deepEqual(await dispatcher({ transport: transport(smtp.url) }).dispatchOnce(), { sent: 0, retried: 0, dead: 4, voided: 0 });
    assert.equal(smtp.messages.length, 0);
    for (const row of await outboxRows(db.knex)) assert.equal(row.status, 'dead');
  });

  it('two workers on one database send each mail exactly once', async () => {
    const smtp = await server();
    const count = 40;
    const ids = await insertMail(
      db.knex,
      Array.from({ length: count }, (_, i) => ({ kind: 'request.done', address: `user${i}@example.test` })),
    );
    const second = db.connect();
    const mailerA = dispatcher({ transport: transport(smtp.url), batchSize: 7, concurrency: 3 });
    const mailerB = createDispatcher({ knex: second, renderer, logger: silentLogger, workerId: 'worker-b', transport: transport(smtp.url), batchSize: 7, concurrency: 3 });
    const totals = { a: 0, b: 0 };
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [a, b] = await Promise.all([mailerA.dispatchOnce(), mailerB.dispatchOnce()]);
      totals.a += a.sent;
      totals.b += b.sent;
      if (a.sent + b.sent === 0) break;
      assert.ok(Date.now() < deadline, 'dispatching did not finish in time');
    }
    assert.equal(totals.a + totals.b, count);
    assert.ok(totals.a > 0 && totals.b > 0, `both workers took part (a=${totals.a}, b=${totals.b})`);
    assert.equal(smtp.messages.length, count);
    const messageIds = new Set(smtp.messages.map((m) => m.messageId));
    assert.deepEqual([...messageIds].sort(), ids.map((id) => `<outbox-${id}@contacts.example.com>`).sort());
    for (const row of await outboxRows(db.knex)) {
      assert.equal(row.status, 'sent');
      assert.equal(row.attempts, 1);
    }
  });

  it('takes over the rows of a crashed worker once its lease has expired, not before', async () => {
    const smtp = await server();
    const now = Date.now();
    await insertMail(db.knex, [
      { address: 'expired@example.test', claimedBy: 'crashed-worker', claimedUntil: now - 1 },
      { address: 'leased@example.test', claimedBy: 'busy-worker', claimedUntil: now + 60_000 },
    ]);
    assert.deepEqual(await dispatcher({ transport: transport(smtp.url) }).dispatchOnce(), { sent: 1, retried: 0, dead: 0, voided: 0 });
    assert.deepEqual(
      smtp.messages.map((m) => m.envelopeTo[0]),
      ['expired@example.test'],
    );
    const [taken, leased] = await outboxRows(db.knex);
    assert.equal(taken?.status, 'sent');
    assert.equal(taken?.claimed_by, null);
    assert.equal(leased?.status, 'pending');
    assert.equal(leased?.claimed_by, 'busy-worker');
  });

  it('renews its leases while a slow send runs: another worker does not take the rows, and the round goes on', async () => {
    const smtp = await server();
    await insertMail(db.knex, [{ address: 'slow@example.test' }, { address: 'next@example.test' }]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sentBySlow: string[] = [];
    let sends = 0;
    const slow: MailTransport = {
      kind: 'file',
      async send(mail) {
        sends += 1;
        if (sends === 1) await gate;
        sentBySlow.push(mail.to.address);
      },
      async close() {},
    };
    // A 4 s lease, renewed every second; the first send outlasts it by half.
    const round = dispatcher({ transport: slow, concurrency: 1, leaseMs: 4000 }).dispatchOnce();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    assert.equal(sends, 1);
    const other = dispatcher({ transport: transport(smtp.url), workerId: 'worker-b', leaseMs: 4000 });
    assert.deepEqual(await other.dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 }, 'the leases were renewed');
    release();
    // The lease is still long enough for the next row: it is sent in this round, not skipped.
    assert.deepEqual(await round, { sent: 2, retried: 0, dead: 0, voided: 0 });
    assert.deepEqual(sentBySlow, ['slow@example.test', 'next@example.test']);
    assert.deepEqual(await other.dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 });
    assert.equal(smtp.messages.length, 0);
    assert.deepEqual((await outboxRows(db.knex)).map((row) => [row.status, row.claimed_by]), [['sent', null], ['sent', null]]);
  });

  it('releaseLeases hands this worker’s rows back and stops dispatching', async () => {
    const smtp = await server();
    const now = Date.now();
    await insertMail(db.knex, [
      { claimedBy: 'worker-a', claimedUntil: now + 60_000 },
      { claimedBy: 'worker-b', claimedUntil: now + 60_000 },
    ]);
    const mailer = dispatcher({ transport: transport(smtp.url) });
    assert.equal(await mailer.releaseLeases(), 1);
    const [mine, other] = await outboxRows(db.knex);
    assert.equal(mine?.claimed_by, null);
    assert.equal(mine?.claimed_until, null);
    assert.equal(other?.claimed_by, 'worker-b');
    assert.deepEqual(await mailer.dispatchOnce(), { sent: 0, retried: 0, dead: 0, voided: 0 });
    assert.equal(smtp.messages.length, 0);
  });

  it('lets a shutdown finish the sends in flight and hands back the rest', async () => {
    await insertMail(db.knex, Array.from({ length: 4 }, () => ({ kind: 'request.done' })));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let sends = 0;
    const slow: MailTransport = {
      kind: 'file',
      async send() {
        sends += 1;
        await gate;
      },
      async close() {},
    };
    const mailer = dispatcher({ transport: slow, concurrency: 1 });
    const round = mailer.dispatchOnce();
    const deadline = Date.now() + 5_000;
    while (sends === 0) {
      assert.ok(Date.now() < deadline, 'the first send did not start');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const released = mailer.releaseLeases();
    release();
    assert.deepEqual(await round, { sent: 1, retried: 0, dead: 0, voided: 0 });
    assert.equal(await released, 0, 'skipped rows were already handed back by the round');
    const rows = await outboxRows(db.knex);
    assert.deepEqual(
      rows.map((r) => [r.status, r.claimed_by]),
      [
        ['sent', null],
        ['pending', null],
        ['pending', null],
        ['pending', null],
      ],
    );
  });

  it('a second dispatchOnce while one is running joins it instead of sending twice', async () => {
    const smtp = await server();
    await insertMail(db.knex, Array.from({ length: 5 }, () => ({ kind: 'request.done' })));
    const mailer = dispatcher({ transport: transport(smtp.url) });
    const [a, b] = await Promise.all([mailer.dispatchOnce(), mailer.dispatchOnce()]);
    assert.deepEqual(a, { sent: 5, retried: 0, dead: 0, voided: 0 });
    assert.equal(a, b);
    assert.equal(smtp.messages.length, 5);
  });
});

describe('mail: backoff and error descriptions', () => {
  it('grows exponentially with jitter between 1 s and 10 min', () => {
    assert.equal(backoffMs(1, () => 0), MIN_BACKOFF_MS);
    assert.equal(backoffMs(1, () => 1), 1_000);
    assert.equal(backoffMs(3, () => 1), 9_000);
    assert.equal(backoffMs(3, () => 0), 4_500);
    assert.equal(backoffMs(20, () => 1), MAX_BACKOFF_MS);
    assert.equal(backoffMs(20, () => 0), MAX_BACKOFF_MS / 2);
    for (let attempts = 1; attempts < 30; attempts++) {
      const delay = backoffMs(attempts);
      assert.ok(delay >= MIN_BACKOFF_MS && delay <= MAX_BACKOFF_MS);
    }
  });

  it('keeps tokens out of last_error', () => {
    const error = Object.assign(new Error(`failed for https://x/requests/1/confirm?token=${TOKEN}\nsecond line`), { code: 'EMESSAGE', responseCode: 452 });
    const text = describeError(error, [TOKEN]);
    assert.equal(text, 'EMESSAGE: 452: failed for https://x/requests/1/confirm?token=[redacted]');
    assert.equal(describeError(new Error(`contains ${TOKEN} bare`), [TOKEN]), 'Error: contains [redacted] bare');
  });
});
