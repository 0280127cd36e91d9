// The real worker process (src/worker/main.ts, as `npm run worker` starts it) against a real SMTP
// server on loopback and the test database: Agenda with our Knex backend, the leased outbox
// dispatcher, the expiry and reminder sweeps, signals and start-up errors.
//
// Requests are made in the test process through the domain services, on the same database.
// Each scenario starts its workers once; afterEach kills whatever is still running.
import assert from 'node:assert/strict';
import { createDomain } from '../../src/domain/index.js';
import { hashToken } from '../../src/domain/tokens.js';
import { JOBS } from '../../src/worker/jobs.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY } from '../../src/mail/dispatcher.js';
import { freePort, insertMail, outboxRows, startSmtpServer, TOKEN, type TestSmtpServer } from '../mail/mail-helpers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import {
  allTokens,
  insertManyMails,
  CTX,
  messageIdOf,
  outboxMails,
  receivedCounts,
  refusalKey,
  requestNewTech,
  tokenFromLink,
} from './helpers/requests.js';
import { waitFor } from './helpers/wait.js';
import { killAllWorkers, startWorker, WORKER_PUBLIC_URL, type WorkerProcess } from './helpers/worker-process.js';

/** The dispatcher's defaults, which the worker uses: rows claimed per round, mails sent at once. */
const BATCH_SIZE = DEFAULT_BATCH_SIZE;
const CONCURRENCY = DEFAULT_CONCURRENCY;
const WEEK = 7 * 24 * 3600_000;

describe('worker: the real worker process', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    // Workers first (they hold SMTP connections and database connections), then servers, then the database.
    await killAllWorkers();
    servers.splice(0);
    for (const close of closers.splice(0).reverse()) await close();
    await db.destroy();
  });

  /** The SMTP servers of the running test, whose received mail assertNoTokenLogged reads. */
  const servers: TestSmtpServer[] = [];

  async function smtpServer(options: Parameters<typeof startSmtpServer>[0] = {}): Promise<TestSmtpServer> {
    const started = await startSmtpServer(options);
    closers.push(started.close);
    servers.push(started);
    return started;
  }

  function worker(smtpUrl: string, extra: Record<string, string> = {}): WorkerProcess {
    return startWorker({ databaseUrl: db.url, smtpUrl, extra });
  }

  function messagesTo(smtp: TestSmtpServer, address: string, subject?: string): TestSmtpServer['messages'] {
    return smtp.messages.filter((m) => m.envelopeTo.includes(address) && (subject === undefined || m.subject === subject));
  }

  async function allSent(expected?: number): Promise<boolean> {
    const rows = await outboxRows(db.knex);
    return (expected === undefined || rows.length === expected) && rows.length > 0 && rows.every((row) => row.status === 'sent');
  }

  /**
   * No confirmation token, from any mail of the test, in anything a worker printed: those still in
   * the outbox (not yet delivered) and those in the mail received (delivered mail keeps none).
   */
  async function assertNoTokenLogged(workers: WorkerProcess[]): Promise<void> {
    const received = servers.flatMap((server) => server.messages.flatMap((m) => [...(m.text ?? '').matchAll(/token=([A-Za-z0-9_-]+)/g)].map((match) => match[1] as string)));
    const tokens = [...(await allTokens(db.knex)), ...received, TOKEN];
    for (const w of workers) {
      const output = w.stdout() + w.stderr();
      assert.ok(output.length > 0, 'the worker logged something');
      for (const token of tokens) assert.ok(!output.includes(token), `token ${token.slice(0, 6)}… appears in the log of worker ${w.pid}`);
    }
  }

  async function lockedJobs(): Promise<{ name: string; locked_at: number }[]> {
    return db.knex('agenda_jobs').whereNotNull('locked_at').select('name', 'locked_at');
  }

  it('delivers the consent flow over SMTP: recipients, subjects, confirm links, Message-IDs; rows end sent', async () => {
    const smtp = await smtpServer();
    const domain = createDomain({ knex: db.knex, handleSuffix: 'ovh', requestTtlMs: WEEK });
    const { admin, oldTech, newTech, service, request } = await requestNewTech(domain);
    const w = worker(smtp.url);
    await w.ready();

    await waitFor(() => smtp.messages.length >= 3, { what: 'the three mails of the new request' });
    const queued = await outboxMails(db.knex, { requestId: request.id });
    assert.deepEqual(queued.map((m) => [m.kind, m.to]).sort(), [
      ['request.confirm', admin.email],
      ['request.confirm', newTech.email],
      ['request.inform', oldTech.email],
    ].sort());

    const confirmSubject = `Your consent is needed: change of contacts for ${service.name}`;
    const tokens = new Map<string, string>();
    for (const party of [admin, newTech]) {
      const [mail, ...more] = messagesTo(smtp, party.email);
      assert.ok(mail && more.length === 0, `one mail to ${party.handle}`);
      assert.deepEqual(mail.envelopeTo, [party.email]);
      assert.equal(Array.isArray(mail.to) ? undefined : mail.to?.value[0]?.address, party.email);
      assert.equal(mail.subject, confirmSubject);
      const row = queued.find((m) => m.to === party.email);
      assert.ok(row);
      assert.equal(mail.messageId, messageIdOf(row.id));
      // The single link carries this party's own token: the one whose hash the party holds.
      const token = tokenFromLink(mail, request.id);
      const stored = (await db.knex('request_parties').where({ request_id: request.id, account_id: party.id }).first('token_hash')) as { token_hash: string };
      assert.equal(hashToken(token), stored.token_hash);
      assert.ok(String(mail.html).includes(`href="${WORKER_PUBLIC_URL}/requests/${request.id}/confirm?token=${token}"`));
      tokens.set(party.email, token);
    }
    const [inform, ...moreInform] = messagesTo(smtp, oldTech.email);
    assert.ok(inform && moreInform.length === 0, 'one mail to the outgoing contact');
    assert.equal(inform.subject, `A change of contacts concerning you was requested: ${service.name}`);
    assert.equal(inform.messageId, messageIdOf(queued.find((m) => m.kind === 'request.inform')?.id ?? 0));
    assert.ok(!inform.text?.includes('token='), 'the informed contact gets no token');

    // Both parties decide with the tokens they received by mail; the change is applied and everyone is told.
    const first = await domain.requests.decide(request.id, admin.id, { token: tokens.get(admin.email), decision: 'accept' }, CTX);
    assert.equal(first.outcome, 'waiting');
    const second = await domain.requests.decide(request.id, newTech.id, { token: tokens.get(newTech.email), decision: 'accept' }, CTX);
    assert.equal(second.outcome, 'done');
    const doneSubject = `Change of contacts applied: ${service.name}`;
    await waitFor(() => smtp.messages.filter((m) => m.subject === doneSubject).length >= 3, { what: 'the request.done mails' });
    for (const person of [admin, oldTech, newTech]) assert.equal(messagesTo(smtp, person.email, doneSubject).length, 1, `done mail to ${person.handle}`);

    await waitFor(() => allSent(6), { what: 'every outbox row marked sent' });
    const rows = await outboxRows(db.knex);
    for (const row of rows) {
      assert.equal(row.attempts, 1);
      assert.equal(row.claimed_by, null);
      assert.equal(row.last_error, null);
    }
    // Exactly one message per row, each under its row's Message-ID.
    assert.deepEqual(
      smtp.messages.map((m) => m.messageId).sort(),
      rows.map((row) => messageIdOf(row.id)).sort(),
    );
    // The log lines come through a pipe and may trail the database by a moment.
    const sentLogs = () => w.logs().filter((line) => line.msg === 'mail sent');
    await waitFor(() => sentLogs().length >= rows.length, { what: 'a "mail sent" log line per row' });
    assert.deepEqual(
      sentLogs()
        .map((line) => Number(line.outboxId))
        .sort((x, y) => x - y),
      rows.map((row) => row.id),
    );
    await assertNoTokenLogged([w]);
  });

  it('retries while SMTP is down and delivers everything once it is (back) up', async () => {
    const port = await freePort();
    const domain = createDomain({ knex: db.knex, handleSuffix: 'ovh', requestTtlMs: WEEK });
    const { admin, oldTech, newTech, service, request } = await requestNewTech(domain);
    const w = worker(`smtp://127.0.0.1:${port}`);
    await w.ready();

    // Nothing listens on the port yet: every mail fails and is scheduled again, none given up.
    const failedOnce = async () => {
      const rows = await outboxRows(db.knex);
      return rows.length > 0 && rows.every((row) => row.status === 'pending' && row.attempts >= 1 && row.claimed_by === null);
    };
    await waitFor(failedOnce, { what: 'a failed attempt on every row' });
    for (const row of await outboxRows(db.knex)) {
      assert.match(row.last_error ?? '', /ECONNREFUSED/);
      assert.ok(row.next_attempt_at > Date.now() - 5_000);
    }
    await w.waitForLog((line) => line.msg === 'mail failed, will retry', 5_000, 'the retry warning');

    // The server comes up on the same port. The next attempt is due after the backoff (1 s,
    // 3 s, 9 s… with jitter; tested in test/mail/dispatcher.test.ts); rather than wait it out,
    // pull next_attempt_at to now, as if that time had passed.
    let smtp = await startSmtpServer({ port });
    closers.push(() => smtp.close());
    await db.knex('outbox').where('status', 'pending').update({ next_attempt_at: Date.now() });
    await waitFor(() => allSent(3), { what: 'delivery once the server is up' });
    assert.deepEqual([...receivedCounts(smtp.messages).values()], [1, 1, 1]);

    // It goes down again: the cancellation mails fail and wait…
    await smtp.close();
    await domain.requests.cancel(request.id, admin.id, CTX);
    const cancelled = await outboxMails(db.knex, { kind: 'request.cancelled' });
    assert.equal(cancelled.length, 3);
    await waitFor(
      async () => (await outboxMails(db.knex, { kind: 'request.cancelled' })).every((m) => m.status === 'pending' && m.attempts >= 1),
      { what: 'failed attempts while the server is down again' },
    );
    // …and go out when it is restarted (backoff skipped as above).
    smtp = await startSmtpServer({ port });
    await db.knex('outbox').where('status', 'pending').update({ next_attempt_at: Date.now() });
    await waitFor(() => allSent(6), { what: 'delivery once the server is back' });
    const subject = `Change of contacts cancelled: ${service.name}`;
    for (const person of [admin, oldTech, newTech]) assert.equal(messagesTo(smtp, person.email, subject).length, 1, `cancel mail to ${person.handle}`);
    assert.equal(smtp.messages.length, 3);
    assert.ok((await outboxRows(db.knex)).every((row) => row.attempts >= 2 && row.claimed_by === null));
    await assertNoTokenLogged([w]);
  });

  it('a worker killed in the middle of a batch: a new worker delivers every row once the leases expire', async () => {
    // 20 ms per message: the 300 rows take long enough for the kill to land inside a batch.
    const smtp = await startSmtpServer({ delayMs: 20 });
    closers.push(smtp.close);
    const ids = await insertManyMails(db.knex, 300, 'kill-');
    const first = worker(smtp.url);
    await first.ready();
    await waitFor(() => smtp.messages.length >= 70, { intervalMs: 5, what: '70 mails from the first worker' });
    first.signal('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');

    const afterKill = await outboxRows(db.knex);
    const leased = afterKill.filter((row) => row.claimed_by === first.workerId);
    assert.ok(leased.length > 0 && leased.length <= BATCH_SIZE, `killed inside a batch: ${leased.length} rows still leased`);
    for (const row of leased) {
      assert.equal(row.status, 'pending');
      assert.ok((row.claimed_until ?? 0) > Date.now() + 30_000, 'the dead worker’s lease still runs');
    }
    // The dead worker also held Agenda's lock on the dispatch job. Agenda hands a locked job to
    // another worker once the lock is older than the job's lockLifetime (5 minutes in
    // src/worker/jobs.ts); age the lock instead of waiting for it.
    assert.ok((await lockedJobs()).some((job) => job.name === JOBS.dispatchOutbox), 'the dead worker still holds the dispatch job');
    await db.knex('agenda_jobs').whereNotNull('locked_at').update({ locked_at: Date.now() - 10 * 60_000 });

    const second = worker(smtp.url);
    await second.ready();
    const leasedIds = new Set(leased.map((row) => row.id));
    await waitFor(
      async () => (await outboxRows(db.knex)).every((row) => row.status === 'sent' || leasedIds.has(row.id)),
      { what: 'the second worker sending every row not leased by the dead one' },
    );
    // A lease that still runs is respected: those rows wait for it.
    for (const row of await outboxRows(db.knex)) {
      if (leasedIds.has(row.id)) assert.deepEqual([row.status, row.claimed_by], ['pending', first.workerId]);
    }

    // The dispatcher's lease is 60 s (src/mail/dispatcher.ts); let it run out instead of waiting.
    await db.knex('outbox').where('claimed_by', first.workerId).update({ claimed_until: Date.now() - 1 });
    await waitFor(() => allSent(300), { what: 'every row sent after the leases expired' });

    const counts = receivedCounts(smtp.messages);
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), ids, 'every outbox row received at least once');
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    assert.ok(smtp.messages.length - ids.length <= BATCH_SIZE, `${smtp.messages.length - ids.length} duplicates`);
    assert.ok(duplicates.every((id) => leasedIds.has(id) && counts.get(id) === 2), 'only mails of the interrupted batch went twice');
    assert.ok((await outboxRows(db.knex)).every((row) => row.claimed_by === null));
    assert.ok(!second.logs().some((line) => /lease lost/.test(line.msg)), 'the second worker never lost a lease');
    await assertNoTokenLogged([first, second]);
  });

  it('two workers on one database send each mail once', async () => {
    const smtp = await startSmtpServer({ delayMs: 5 });
    closers.push(smtp.close);
    const a = worker(smtp.url);
    const b = worker(smtp.url);
    await Promise.all([a.ready(), b.ready()]);
    // Both run their schedules with every(): still one job per name.
    const jobs = (await db.knex('agenda_jobs').select('name')) as { name: string }[];
    assert.deepEqual(jobs.map((job) => job.name).sort(), Object.values(JOBS).sort());

    // Mail arrives in waves while both workers poll.
    const ids: number[] = [];
    for (let wave = 0; wave < 4; wave += 1) {
      ids.push(...(await insertMail(db.knex, Array.from({ length: 40 }, (_, i) => ({ address: `w${wave}-${i}@example.test` })))));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await waitFor(() => allSent(ids.length), { what: 'every mail sent' });

    const messageIds = smtp.messages.map((m) => m.messageId);
    assert.equal(new Set(messageIds).size, messageIds.length, 'no Message-ID twice');
    assert.deepEqual(messageIds.sort(), ids.map(messageIdOf).sort());
    // The log lines come through pipes and may trail the database by a moment.
    const sentBy = () => [a, b].flatMap((w) => w.logs().filter((line) => line.msg === 'mail sent').map((line) => Number(line.outboxId)));
    await waitFor(() => sentBy().length >= ids.length, { what: 'a "mail sent" log line per row' });
    assert.deepEqual(
      sentBy().sort((x, y) => x - y),
      ids,
      'each row sent by exactly one worker',
    );
    assert.ok((await outboxRows(db.knex)).every((row) => row.attempts === 1));
    await assertNoTokenLogged([a, b]);
  });

  it('expires a request past its time: tokens refused, everyone involved told by mail', async () => {
    const smtp = await smtpServer();
    const domain = createDomain({ knex: db.knex, handleSuffix: 'ovh', requestTtlMs: 1000 });
    const { admin, oldTech, newTech, service, request } = await requestNewTech(domain);
    // The confirmations' codes, read before the worker sends them or, the request having expired
    // first (it lives 1 s), makes them void.
    const confirmations = await outboxMails(db.knex, { requestId: request.id, kind: 'request.confirm' });
    const w = worker(smtp.url);
    await w.ready();

    await waitFor(async () => (await db.knex('change_requests').where({ id: request.id }).first('state'))?.state === 'expired', {
      what: 'the request expired by the sweep',
    });
    const events = (await db.knex('request_events').where({ request_id: request.id, event: 'expired' }).select('actor_id', 'to_state')) as {
      actor_id: number | null;
      to_state: string;
    }[];
    assert.deepEqual(events, [{ actor_id: null, to_state: 'expired' }]);
    await waitFor(() => w.logs().some((line) => line.msg === 'requests expired' && line.expired === 1), { what: 'the sweep’s log line' });

    const subject = `Change of contacts expired: ${service.name}`;
    await waitFor(() => smtp.messages.filter((m) => m.subject === subject).length >= 3, { what: 'the expiry mails' });
    // Every code issued for it is dead.
    let tried = 0;
    for (const party of [admin, newTech]) {
      for (const mail of confirmations.filter((m) => m.to === party.email)) {
        const key = await refusalKey(domain.requests.decide(request.id, party.id, { token: mail.token, decision: 'accept' }, CTX));
        assert.ok(['errors.token.closed', 'errors.token.expired'].includes(key), key);
        tried += 1;
      }
    }
    assert.equal(tried, 2, 'both confirmations tried');
    for (const person of [admin, oldTech, newTech]) assert.equal(messagesTo(smtp, person.email, subject).length, 1, `expiry mail to ${person.handle}`);
    // A confirmation sent after the request expired would only lead to "this request is closed":
    // whichever were not sent before are void.
    await waitFor(
      async () =>
        ((await db.knex('outbox').select('status', 'kind')) as { status: string; kind: string }[]).every(
          (row) => row.status === 'sent' || (row.status === 'void' && row.kind === 'request.confirm'),
        ),
      { what: 'every row sent, or void for a confirmation of the expired request' },
    );
    assert.equal((await db.knex('services').where({ id: service.id }).first('tech_id'))?.tech_id, oldTech.id, 'nothing changed');
    await assertNoTokenLogged([w]);
  });

  it('reminds each undecided party exactly once, however many sweeps run', async () => {
    const smtp = await smtpServer();
    const domain = createDomain({ knex: db.knex, handleSuffix: 'ovh', requestTtlMs: 3 * 3600_000 });
    // Two requests: nobody has decided the first; the administrator already accepted the second.
    const one = await requestNewTech(domain);
    const two = await requestNewTech(domain);
    const adminToken = (await outboxMails(db.knex, { requestId: two.request.id, kind: 'request.confirm' })).find((m) => m.to === two.admin.email)?.token;
    assert.equal((await domain.requests.decide(two.request.id, two.admin.id, { token: adminToken, decision: 'accept' }, CTX)).outcome, 'waiting');

    // Requests live 3 hours and are reminded 2 hours before they expire: move them an hour and a
    // minute into their life, so the first sweep finds them due.
    await db.knex('change_requests').update({ created_at: db.knex.raw('created_at - ?', [61 * 60_000]), expires_at: db.knex.raw('expires_at - ?', [61 * 60_000]) });
    // The code of the new contact's first mail, read before that mail is sent or made void.
    const original = (await outboxMails(db.knex, { requestId: one.request.id, kind: 'request.confirm' })).find((m) => m.to === one.newTech.email)?.token;
    assert.ok(original);
    const w = worker(smtp.url, { REMIND_BEFORE: '2 hours' });
    await w.ready();
    const subject = (t: typeof one) => `Reminder: the change of contacts for ${t.service.name} expires soon`;
    const reminders = () => smtp.messages.filter((m) => m.subject?.startsWith('Reminder:'));
    await waitFor(() => reminders().length >= 3, { what: 'three reminders' });

    // Let at least three more sweeps run.
    const lastFinished = async () =>
      Number((await db.knex('agenda_jobs').where({ name: JOBS.remindRequests }).first('last_finished_at'))?.last_finished_at ?? 0);
    let seen = await lastFinished();
    let sweeps = 0;
    await waitFor(
      async () => {
        const at = await lastFinished();
        if (at !== seen) [seen, sweeps] = [at, sweeps + 1];
        return sweeps >= 3;
      },
      { what: 'three more reminder sweeps', intervalMs: 100 },
    );
    // A first confirmation still queued when its party's reminder replaced its code is not sent
    // (void): the reminder carries the code that works. Whether any was still queued depends on
    // which job ran first.
    await waitFor(
      async () =>
        ((await db.knex('outbox').select('status', 'kind')) as { status: string; kind: string }[]).every(
          (row) => row.status === 'sent' || (row.status === 'void' && row.kind === 'request.confirm'),
        ),
      { what: 'every row sent, or void for a confirmation whose code a reminder replaced' },
    );

    assert.equal(reminders().length, 3);
    assert.equal(messagesTo(smtp, one.admin.email, subject(one)).length, 1);
    assert.equal(messagesTo(smtp, one.newTech.email, subject(one)).length, 1);
    assert.equal(messagesTo(smtp, two.newTech.email, subject(two)).length, 1);
    assert.equal(messagesTo(smtp, two.admin.email, subject(two)).length, 0, 'a party that decided is not reminded');
    assert.equal(messagesTo(smtp, one.oldTech.email, subject(one)).length, 0, 'the informed contact is not reminded');
    assert.equal((await outboxMails(db.knex, { kind: 'request.reminder' })).length, 3);
    assert.equal(w.logs().filter((line) => line.msg === 'reminders queued').length, 1);

    // The reminder carries a new token; the one from the first mail no longer works (and is told
    // apart from a wrong one).
    const [reminder] = messagesTo(smtp, one.newTech.email, subject(one));
    assert.ok(reminder);
    const fresh = tokenFromLink(reminder, one.request.id);
    assert.ok(fresh !== original);
    assert.equal(
      await refusalKey(domain.requests.decide(one.request.id, one.newTech.id, { token: original, decision: 'accept' }, CTX)),
      'errors.token.replaced',
    );
    const decided = await domain.requests.decide(one.request.id, one.newTech.id, { token: fresh, decision: 'accept' }, CTX);
    assert.equal(decided.outcome, 'waiting');
    await assertNoTokenLogged([w]);
  });

  it('on SIGTERM stops within seconds with code 0, leaving no job locked and no mail claimed', async () => {
    // A backlog that takes the worker several seconds to send (600 mails, 50 ms each, 5 at a
    // time): the signal comes in the middle of it, and stopping must not wait for it to drain.
    const smtp = await startSmtpServer({ delayMs: 50 });
    closers.push(smtp.close);
    await insertManyMails(db.knex, 600, 'term-');
    const w = worker(smtp.url);
    await w.ready();
    await waitFor(() => smtp.messages.length >= 20, { intervalMs: 5, what: 'sending under way' });
    const claimed = await db.knex('outbox').where('claimed_by', w.workerId).count({ n: '*' }).first();
    assert.ok(Number(claimed?.n) > 0, 'rows are claimed when the signal comes');
    assert.ok((await lockedJobs()).some((job) => job.name === JOBS.dispatchOutbox), 'the dispatch job is running when the signal comes');

    const signalled = Date.now();
    const receivedBefore = smtp.messages.length;
    w.signal('SIGTERM');
    const status = await w.exited;
    const took = Date.now() - signalled;
    assert.deepEqual(status, { code: 0, signal: null }, w.stderr());
    assert.equal(w.stderr(), '');
    assert.ok(w.logs().some((line) => line.msg === 'worker stopped'));
    // The mails being sent at that moment may finish; no further batch is started.
    const sentAfter = smtp.messages.length - receivedBefore;
    assert.ok(sentAfter <= 2 * CONCURRENCY, `${sentAfter} mails were sent after SIGTERM (${took} ms to stop)`);
    assert.ok(took < 5_000, `stopped ${took} ms after SIGTERM`);

    assert.deepEqual(await lockedJobs(), [], 'no Agenda job left locked');
    const stillClaimed = await db.knex('outbox').whereNotNull('claimed_by').select('id', 'claimed_by');
    assert.deepEqual(stillClaimed, [], 'no outbox row left claimed');
    // What was not sent is simply pending, for the next worker; what is marked sent was delivered.
    const rows = await outboxRows(db.knex);
    assert.ok(rows.every((row) => row.status === 'sent' || (row.status === 'pending' && row.claimed_until === null)));
    assert.ok(rows.some((row) => row.status === 'pending'), 'the backlog was not drained first');
    const received = receivedCounts(smtp.messages);
    assert.ok(rows.filter((row) => row.status === 'sent').every((row) => received.has(row.id)), 'a row marked sent was delivered');
    await assertNoTokenLogged([w]);
  });

  it('refuses a bad configuration value with exit code 1 and a one-line message naming the variable', async () => {
    const port = await freePort();
    const cases = [
      { name: 'EXPIRE_EVERY', value: 'soon' },
      { name: 'DISPATCH_EVERY', value: '0 ms' },
      { name: 'REMIND_BEFORE', value: '-1 hour' },
    ];
    const workers = cases.map(({ name, value }) => worker(`smtp://127.0.0.1:${port}`, { [name]: value }));
    const statuses = await Promise.all(workers.map((w) => w.exited));
    cases.forEach(({ name, value }, i) => {
      const w = workers[i] as WorkerProcess;
      assert.deepEqual(statuses[i], { code: 1, signal: null }, `${name}=${value}`);
      const lines = w.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line for ${name}: ${w.stderr()}`);
      assert.match(lines[0] ?? '', new RegExp(`^Configuration error: ${name}="${value}"`));
      assert.ok(!w.stdout().includes('worker started'));
    });
    // It stopped before touching the database.
    assert.equal(Number((await db.knex('agenda_jobs').count({ n: '*' }).first())?.n), 0);
  });
});
