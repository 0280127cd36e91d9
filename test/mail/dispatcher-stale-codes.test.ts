// A mail whose code no longer works is not sent: it waited in the outbox (an SMTP outage, its
// backoff, a dead mail put back) while its request was closed or its code replaced.
import assert from 'node:assert/strict';
import type { Account } from '../../src/domain/accounts.js';
import type { Service } from '../../src/domain/services.js';
import { VOID_REASON } from '../../src/mail/dispatcher.js';
import { retryMail } from '../../src/mail/outbox-admin.js';
import { CTX, DomainFixture, TTL } from '../helpers/domain-fixtures.js';
import { startSmtpDispatch, type SmtpDispatch } from './mail-helpers.js';

const CONSENT = /^Your consent is needed/;

describe('mail: dispatcher and codes that no longer work', () => {
  let f: DomainFixture;
  let mail: SmtpDispatch;
  before(async () => {
    f = await DomainFixture.create();
    mail = await startSmtpDispatch(f.knex, f.clock.now);
  });
  after(async () => {
    await mail.close();
    await f.close();
  });

  const dispatch = () => mail.dispatchOnce();

  async function newRequest(): Promise<{ admin: Account; newTech: Account; service: Service; requestId: number }> {
    const [admin, oldTech, newTech] = (await f.accounts(3)) as [Account, Account, Account];
    const service = await f.service({ admin, tech: oldTech });
    const [request] = await f.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, CTX);
    assert.ok(request);
    return { admin, newTech, service, requestId: request.id };
  }

  const consentMailsTo = (account: Account) => mail.smtp.messages.filter((m) => m.envelopeTo.includes(account.email) && CONSENT.test(m.subject ?? ''));

  async function voidRows(requestId: number) {
    return (await f.knex('outbox').where({ request_id: requestId, status: 'void' }).orderBy('id').select('kind', 'recipient_address', 'payload', 'last_error', 'claimed_by')) as {
      kind: string;
      recipient_address: string;
      payload: string;
      last_error: string;
      claimed_by: string | null;
    }[];
  }

  it('a confirmation still queued when its request was cancelled is made void, without its code; the other mails go out', async () => {
    const { admin, newTech, requestId } = await newRequest();
    await f.domain.requests.cancel(requestId, admin.id, CTX);
    const result = await dispatch();
    assert.equal(result.voided, 2);
    assert.equal(result.dead + result.retried, 0);
    assert.deepEqual([...consentMailsTo(admin), ...consentMailsTo(newTech)], []);
    assert.ok(mail.smtp.messages.some((m) => m.envelopeTo.includes(newTech.email) && /cancelled/i.test(m.subject ?? '')), 'the cancellation is sent');
    const rows = await voidRows(requestId);
    assert.deepEqual(rows.map((row) => [row.kind, row.recipient_address]).sort(), [['request.confirm', admin.email], ['request.confirm', newTech.email]].sort());
    for (const row of rows) {
      assert.equal(row.last_error, VOID_REASON);
      assert.equal(row.claimed_by, null);
      assert.equal((JSON.parse(row.payload) as { token?: string }).token, undefined, 'a void mail keeps no code');
    }
  });

  it('a resent code makes the first, still queued, mail void: the party gets one mail, with the code that works', async () => {
    const { admin, newTech, requestId } = await newRequest();
    await f.domain.requests.resend(requestId, admin.id, CTX);
    const token = await f.tokenOf(requestId, admin);
    const result = await dispatch();
    assert.equal(result.voided, 1);
    const [mail, ...more] = consentMailsTo(admin);
    assert.ok(mail);
    assert.deepEqual(more, []);
    assert.ok(mail.text?.includes(token), 'the mail sent carries the current code');
    assert.equal(consentMailsTo(newTech).length, 1, 'the other party\'s mail is untouched');
    assert.equal((await f.domain.requests.decide(requestId, admin.id, { token, decision: 'accept' }, CTX)).outcome, 'waiting');
  });

  it('a dead confirmation put back by mail:retry after its request expired is made void, not sent', async () => {
    const { admin, newTech, requestId } = await newRequest();
    await f.knex('outbox').where({ request_id: requestId, kind: 'request.confirm' }).update({ status: 'dead', attempts: 12 });
    f.clock.advance(TTL + 60_000);
    assert.ok((await f.domain.requests.expireDue()) >= 1);
    assert.ok((await retryMail(f.knex, { allDead: true }, f.clock.now)).retried >= 2);
    const result = await dispatch();
    assert.equal(result.voided, 2);
    assert.deepEqual([...consentMailsTo(admin), ...consentMailsTo(newTech)], []);
  });

  it('a party who decided has no code left: its queued mail is void, the other party\'s still goes out', async () => {
    const { admin, newTech, requestId } = await newRequest();
    const token = await f.tokenOf(requestId, admin);
    assert.equal((await f.domain.requests.decide(requestId, admin.id, { token, decision: 'accept' }, CTX)).outcome, 'waiting');
    const result = await dispatch();
    assert.equal(result.voided, 1);
    assert.deepEqual(consentMailsTo(admin), []);
    assert.equal(consentMailsTo(newTech).length, 1);
  });

  it('a reminder replaced by a resend while queued is void; the resent code goes out', async () => {
    const { admin, newTech, requestId } = await newRequest();
    await dispatch();
    f.clock.advance(TTL - 12 * 3600_000);
    assert.ok((await f.domain.requests.remindDue(24 * 3600_000)) >= 1);
    await f.domain.requests.resend(requestId, admin.id, CTX);
    const token = await f.tokenOf(requestId, admin);
    const before = mail.smtp.messages.length;
    const result = await dispatch();
    assert.equal(result.voided, 1, 'the admin\'s reminder');
    const mine = mail.smtp.messages.slice(before).filter((m) => m.envelopeTo.includes(admin.email));
    assert.equal(mine.length, 1);
    assert.ok(mine[0]?.text?.includes(token));
    assert.ok(mail.smtp.messages.slice(before).some((m) => m.envelopeTo.includes(newTech.email) && /^Reminder/.test(m.subject ?? '')), 'the other party\'s reminder goes out');
  });

  it('a confirmation whose code still works is sent', async () => {
    const { admin, newTech } = await newRequest();
    const result = await dispatch();
    assert.equal(result.voided, 0);
    assert.equal(consentMailsTo(admin).length, 1);
    assert.equal(consentMailsTo(newTech).length, 1);
  });
});
