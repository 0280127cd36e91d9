import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Account } from '../../src/domain/accounts.js';
import type { ChangeRequest, DecisionOutcome } from '../../src/domain/change-requests.js';
import { BadRequestError, ForbiddenError, NotFoundError, RateLimitedError, ValidationError } from '../../src/domain/errors.js';
import { requestMailPayload } from '../../src/domain/outbox.js';
import type { Role } from '../../src/domain/roles.js';
import type { Service } from '../../src/domain/services.js';
import { untilALockIsAwaited } from '../helpers/test-database.js';
import { CTX, DAY, DomainFixture, expectedMails, HOUR, rejectsField, rejectsWith, sortedLines, TTL } from '../helpers/domain-fixtures.js';

const ids = (...accounts: Account[]): number[] => accounts.map((account) => account.id).sort((x, y) => x - y);
const partyIds = (request: ChangeRequest): number[] => request.parties.map((party) => party.accountId).sort((x, y) => x - y);
const fakeToken = (): string => randomBytes(32).toString('base64url');
const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const ALL_QUERY = { q: '', type: undefined, role: undefined, sort: 'name', page: 1 } as const;

describe('domain: change requests', () => {
  let f: DomainFixture;

  before(async () => {
    f = await DomainFixture.create();
  });
  after(() => f.close());

  /** Administrator a, technical contact t, billing contact b, and a fourth account n, on a new service. */
  async function team(): Promise<{ a: Account; t: Account; b: Account; n: Account; service: Service }> {
    const [a, t, b, n] = (await f.accounts(4)) as [Account, Account, Account, Account];
    const service = await f.service({ admin: a, tech: t, billing: b });
    return { a, t, b, n, service };
  }

  async function submitOne(requester: Account, service: Service, input: Partial<Record<Role, string>>): Promise<ChangeRequest> {
    const requests = await f.domain.requests.submit(requester.id, service.id, input, CTX);
    assert.equal(requests.length, 1, 'exactly one request');
    return requests[0] as ChangeRequest;
  }

  async function decide(request: ChangeRequest, account: Account, decision: 'accept' | 'refuse' = 'accept', token?: string): Promise<DecisionOutcome> {
    return f.domain.requests.decide(request.id, account.id, { token: token ?? (await f.tokenOf(request.id, account)), decision }, CTX);
  }

  async function state(request: ChangeRequest): Promise<string> {
    return (await f.requestRow(request.id)).state;
  }

  // ------------------------------------------------------------------ who must consent

  describe('submit: the parties of each case', () => {
    it('administrator names a new technical contact: admin and new contact confirm, old contact informed', async () => {
      const { a, t, b, n, service } = await team();
      const submittedAt = f.clock.now();
      const request = await submitOne(a, service, { admin: a.handle, tech: n.handle, billing: b.handle });

      assert.equal(request.state, 'pending');
      assert.deepEqual(request.roles, ['tech']);
      assert.deepEqual([request.requester.id, request.from.id, request.to.id], [a.id, t.id, n.id]);
      assert.deepEqual(partyIds(request), ids(a, n));
      assert.ok(request.parties.every((party) => party.decision === null));
      assert.equal(request.expiresAt, submittedAt + TTL);

      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', a, n), expectedMails('request.inform', t)));
      const [inform] = await f.mails(request.id, 'request.inform');
      assert.equal(inform?.payload.token, undefined, 'the informed contact gets no token');
      assert.notEqual(await f.tokenOf(request.id, a), await f.tokenOf(request.id, n), 'each party has its own token');

      assert.deepEqual(await f.events(request.id), [{ event: 'created', from_state: null, to_state: 'pending', actor_id: a.id }]);
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: b.id }, 'nothing changes before consent');
      assert.deepEqual(await f.activeRoles(service.id), ['tech']);
    });

    it('administrator names a new billing contact: admin and new contact confirm, old billing contact informed', async () => {
      const { a, t, b, n, service } = await team();
      const request = await submitOne(a, service, { admin: a.handle, tech: t.handle, billing: n.handle });

      assert.deepEqual(request.roles, ['billing']);
      assert.deepEqual([request.from.id, request.to.id], [b.id, n.id]);
      assert.deepEqual(partyIds(request), ids(a, n));
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', a, n), expectedMails('request.inform', b)));

      await decide(request, a);
      await decide(request, n);
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: n.id });
    });

    it('administrator takes the technical role back: admin and the removed user confirm', async () => {
      const { a, t, b, service } = await team();
      const request = await submitOne(a, service, { tech: a.handle });

      assert.deepEqual([request.requester.id, request.from.id, request.to.id], [a.id, t.id, a.id]);
      assert.deepEqual(partyIds(request), ids(a, t));
      // The removed user is a party, so it is told through its own confirm mail.
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', a, t)));

      await decide(request, t);
      const outcome = await decide(request, a);
      assert.equal(outcome.outcome, 'done');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: a.id, billing: b.id });
    });

    it('administrator hands over administration: old admin without other roles loses the service', async () => {
      const [a, t, n] = (await f.accounts(3)) as [Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: t });
      const request = await submitOne(a, service, { admin: n.handle });

      assert.deepEqual(request.roles, ['admin']);
      assert.deepEqual([request.from.id, request.to.id], [a.id, n.id]);
      assert.deepEqual(partyIds(request), ids(a, n));
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', a, n)));

      const first = await decide(request, a);
      assert.equal(first.outcome, 'waiting');
      const second = await decide(request, n);
      assert.equal(second.outcome, 'done');
      assert.deepEqual(await f.contacts(service.id), { admin: n.id, tech: t.id, billing: t.id });

      const list = await f.domain.services.listForAccount(a.id, { ...ALL_QUERY });
      assert.ok(!list.rows.some((row) => row.id === service.id), 'the old admin no longer sees the service');
      await rejectsWith(f.domain.services.findForAccount(service.id, a.id), NotFoundError);
      const mine = await f.domain.services.findForAccount(service.id, n.id);
      assert.deepEqual(mine.myRoles, ['admin']);
    });

    it('administrator hands over administration: old admin that is also tech keeps the service with tech only', async () => {
      const [a, b, n] = (await f.accounts(3)) as [Account, Account, Account];
      const service = await f.service({ admin: a, tech: a, billing: b });
      const request = await submitOne(a, service, { admin: n.handle, tech: a.handle, billing: b.handle });
      assert.deepEqual(request.roles, ['admin']);
      await decide(request, n);
      await decide(request, a);

      assert.deepEqual(await f.contacts(service.id), { admin: n.id, tech: a.id, billing: b.id });
      const row = (await f.domain.services.listForAccount(a.id, { ...ALL_QUERY })).rows.find((r) => r.id === service.id);
      assert.deepEqual(row?.myRoles, ['tech']);
      assert.deepEqual((await f.domain.services.findForAccount(service.id, a.id)).myRoles, ['tech']);
      // And with it only the technical contact's rights.
      await rejectsField(f.domain.requests.submit(a.id, service.id, { billing: a.handle }, CTX), 'billing', 'errors.request.notAllowed');
    });

    it('technical contact replaces itself: it and its successor confirm', async () => {
      const [a, t, s] = (await f.accounts(3)) as [Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: a });
      // The form posts all three fields; the unchanged ones are not changes.
      const request = await submitOne(t, service, { admin: a.handle, tech: s.handle, billing: a.handle });

      assert.deepEqual([request.requester.id, request.from.id, request.to.id], [t.id, t.id, s.id]);
      assert.deepEqual(partyIds(request), ids(t, s));
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', t, s)));

      const first = await decide(request, s);
      assert.deepEqual(first.outcome === 'waiting' && first.waitingFor, t.handle);
      assert.equal((await decide(request, t)).outcome, 'done');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: s.id, billing: a.id });
    });

    it('billing contact replaces itself: it and its successor confirm, the administrator is told', async () => {
      const [a, t, b, s] = (await f.accounts(4)) as [Account, Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: b });
      const request = await submitOne(b, service, { admin: a.handle, tech: t.handle, billing: s.handle });

      assert.deepEqual([request.requester.id, request.from.id, request.to.id, request.roles], [b.id, b.id, s.id, ['billing']]);
      assert.deepEqual(partyIds(request), ids(b, s));
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', b, s)));

      const first = await decide(request, b);
      assert.deepEqual(first.outcome === 'waiting' && first.waitingFor, s.handle);
      assert.equal((await decide(request, s)).outcome, 'done');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: s.id });
    });

    it('technical contact may not change the administrator or billing contact; nothing is written', async () => {
      const { a, t, n, service } = await team();
      const before = await f.counts();
      const error = await rejectsField(
        f.domain.requests.submit(t.id, service.id, { admin: n.handle, tech: n.handle, billing: n.handle }, CTX),
        'admin',
        'errors.request.notAllowed',
        { role: 'admin' },
      );
      assert.equal(error.fields.billing?.key, 'errors.request.notAllowed');
      assert.equal(error.fields.tech, undefined, 'its own role is not the problem');
      assert.deepEqual(await f.counts(), before);
      assert.deepEqual(await f.activeRoles(service.id), []);
      assert.equal((await f.contacts(service.id)).admin, a.id);
    });

    it('billing contact may not change the technical contact', async () => {
      const { b, n, service } = await team();
      const before = await f.counts();
      await rejectsField(f.domain.requests.submit(b.id, service.id, { tech: n.handle }, CTX), 'tech', 'errors.request.notAllowed', { role: 'tech' });
      assert.deepEqual(await f.counts(), before);
    });

    it('technical and billing moving from the same account to the same new account share ONE request', async () => {
      const [a, o, n] = (await f.accounts(3)) as [Account, Account, Account];
      const service = await f.service({ admin: a, tech: o, billing: o });
      const request = await submitOne(a, service, { tech: n.handle, billing: n.handle });

      assert.deepEqual(request.roles, ['tech', 'billing']);
      assert.deepEqual([request.from.id, request.to.id], [o.id, n.id]);
      assert.deepEqual(partyIds(request), ids(a, n));
      assert.deepEqual(await f.mailSummary(request.id), sortedLines(expectedMails('request.confirm', a, n), expectedMails('request.inform', o)));
      assert.deepEqual(await f.activeRoles(service.id), ['billing', 'tech']);

      await decide(request, a);
      await decide(request, n);
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: n.id, billing: n.id });
    });

    it('technical and billing moving to two different accounts make two requests', async () => {
      const [a, o, n1, n2] = (await f.accounts(4)) as [Account, Account, Account, Account];
      const service = await f.service({ admin: a, tech: o, billing: o });
      const requests = await f.domain.requests.submit(a.id, service.id, { tech: n1.handle, billing: n2.handle }, CTX);

      assert.equal(requests.length, 2);
      const tech = requests.find((r) => r.roles.join() === 'tech') as ChangeRequest;
      const billing = requests.find((r) => r.roles.join() === 'billing') as ChangeRequest;
      assert.deepEqual([tech.from.id, tech.to.id, partyIds(tech)], [o.id, n1.id, ids(a, n1)]);
      assert.deepEqual([billing.from.id, billing.to.id, partyIds(billing)], [o.id, n2.id, ids(a, n2)]);
      assert.deepEqual(await f.mailSummary(tech.id), sortedLines(expectedMails('request.confirm', a, n1), expectedMails('request.inform', o)));
      assert.deepEqual(await f.mailSummary(billing.id), sortedLines(expectedMails('request.confirm', a, n2), expectedMails('request.inform', o)));
      assert.notEqual(await f.tokenOf(tech.id, a), await f.tokenOf(billing.id, a), 'one token per party and request');
    });

    it('the same new account taking roles from two different accounts makes two requests (one per pair)', async () => {
      const { a, t, b, n, service } = await team();
      const requests = await f.domain.requests.submit(a.id, service.id, { tech: n.handle, billing: n.handle }, CTX);
      assert.deepEqual(requests.map((r) => [r.roles.join(), r.from.id, r.to.id]).sort(), [
        ['billing', b.id, n.id],
        ['tech', t.id, n.id],
      ]);
    });

    it('skips unchanged fields, comparing handles case- and space-insensitively', async () => {
      const { a, b, n, service } = await team();
      const request = await submitOne(a, service, { admin: ` ${a.handle.toUpperCase()} `, tech: n.handle.toUpperCase(), billing: b.handle });
      assert.deepEqual(request.roles, ['tech']);
      assert.equal(request.to.id, n.id);
    });
  });

  // ------------------------------------------------------------------ refusals at submit

  describe('submit: what is refused', () => {
    it('a form opened before a contact changed: the field left as shown is no change, a field changed since is refused', async () => {
      const { a, t, b, n, service } = await team();
      const [y, z] = (await f.accounts(2)) as [Account, Account];
      const shown = { admin: a.handle, tech: t.handle, billing: b.handle };
      // Meanwhile the technical contact was replaced (t handed over to y, by a finished request).
      await f.knex('services').where({ id: service.id }).update({ tech_id: y.id });

      // The administrator changes only the billing contact in the old form: tech still shows t.
      const [billing, ...others] = await f.domain.requests.submit(a.id, service.id, { ...shown, billing: n.handle }, CTX, shown);
      assert.deepEqual(others, [], 'no request to give the technical role back to t');
      assert.deepEqual([billing?.roles, billing?.from.id, billing?.to.id], [['billing'], b.id, n.id]);

      // Changing the field whose contact changed since: refused, with the contact it has now.
      const before = await f.counts();
      await rejectsField(f.domain.requests.submit(a.id, service.id, { ...shown, tech: z.handle }, CTX, shown), 'tech', 'errors.request.changedMeanwhile', {
        role: 'tech',
        handle: y.handle,
      });
      assert.deepEqual(await f.counts(), before);
      // Sent again from the form as it is now, the change is made from the current contact.
      const tech = await submitOne(a, service, { tech: z.handle });
      assert.deepEqual([tech.from.id, tech.to.id], [y.id, z.id]);
    });

    it('a read-only field gone stale does not count as a forbidden change', async () => {
      const { a, t, b, n, service } = await team();
      const [x] = (await f.accounts(1)) as [Account];
      const shown = { admin: a.handle, tech: t.handle, billing: b.handle };
      await f.knex('services').where({ id: service.id }).update({ admin_id: x.id });
      // The technical contact may change only itself; the administrator shown is out of date.
      const [request, ...others] = await f.domain.requests.submit(t.id, service.id, { ...shown, tech: n.handle }, CTX, shown);
      assert.deepEqual(others, []);
      assert.deepEqual([request?.roles, request?.from.id, request?.to.id], [['tech'], t.id, n.id]);
    });

    it('refuses a billing change when the outgoing billing account is overdue; nothing written', async () => {
      const { a, b, n, service } = await team();
      await f.domain.accounts.setBillingStatus(b.handle, true);
      const before = await f.counts();
      await rejectsField(f.domain.requests.submit(a.id, service.id, { billing: n.handle }, CTX), 'billing', 'errors.request.billingOverdue', { handle: b.handle });
      assert.deepEqual(await f.counts(), before);
      // Only billing changes care about payments.
      const tech = await submitOne(a, service, { tech: n.handle });
      assert.deepEqual(tech.roles, ['tech']);
    });

    it('refuses a billing change when the incoming billing account is overdue; nothing written', async () => {
      const { a, n, service } = await team();
      await f.domain.accounts.setBillingStatus(n.handle, true);
      const before = await f.counts();
      await rejectsField(f.domain.requests.submit(a.id, service.id, { billing: n.handle }, CTX), 'billing', 'errors.request.billingOverdue', { handle: n.handle });
      assert.deepEqual(await f.counts(), before);
    });

    it('refuses a role that is already in a pending request, naming that request; nothing written', async () => {
      const { a, t, n, service } = await team();
      const [n2] = (await f.accounts(1)) as [Account];
      const pending = await submitOne(a, service, { tech: n.handle });
      const before = await f.counts();

      await rejectsField(f.domain.requests.submit(a.id, service.id, { tech: n2.handle }, CTX), 'tech', 'errors.request.pending', { id: pending.id, role: 'tech' });
      await rejectsField(f.domain.requests.submit(t.id, service.id, { tech: n2.handle }, CTX), 'tech', 'errors.request.pending', { id: pending.id });
      // A submission also touching a free role writes nothing at all.
      const mixed = await rejectsField(f.domain.requests.submit(a.id, service.id, { tech: n2.handle, billing: n2.handle }, CTX), 'tech', 'errors.request.pending');
      assert.equal(mixed.fields.billing, undefined);
      assert.deepEqual(await f.counts(), before);

      // Another role of the same service is free.
      const billing = await submitOne(a, service, { billing: n2.handle });
      assert.notEqual(billing.id, pending.id);
      assert.deepEqual(await f.activeRoles(service.id), ['billing', 'tech']);
    });

    it('the database itself refuses a second active request_roles row for the same service and role', async () => {
      const { a, t, n, service } = await team();
      const pending = await submitOne(a, service, { tech: n.handle });
      const [row] = await f
        .knex('change_requests')
        .insert({
          service_id: service.id,
          requester_id: a.id,
          from_account_id: t.id,
          to_account_id: n.id,
          roles: 'tech',
          state: 'pending',
          created_at: f.clock.now(),
          expires_at: f.clock.now() + TTL,
        })
        .returning(['id']);
      const otherId = (row as { id: number }).id;
      assert.notEqual(otherId, pending.id);

      await assert.rejects(f.knex('request_roles').insert({ request_id: otherId, service_id: service.id, role: 'tech', active: true }));
      // The index is partial: finished rows and other roles do not collide.
      await f.knex('request_roles').insert({ request_id: otherId, service_id: service.id, role: 'tech', active: false });
      await f.knex('request_roles').insert({ request_id: otherId, service_id: service.id, role: 'billing', active: true });
      assert.deepEqual(await f.activeRoles(service.id), ['billing', 'tech']);
    });

    it('two simultaneous submissions on the same role: one request, the other refused as pending', async () => {
      const { a, n, service } = await team();
      const [m] = (await f.accounts(1)) as [Account];
      const results = await Promise.allSettled([
        f.domain.requests.submit(a.id, service.id, { tech: n.handle }, CTX),
        f.domain.requests.submit(a.id, service.id, { tech: m.handle }, CTX),
      ]);
      const won = results.filter((r): r is PromiseFulfilledResult<ChangeRequest[]> => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      const winner = won[0]?.value[0] as ChangeRequest;
      assert.ok(lost[0]?.reason instanceof ValidationError, String(lost[0]?.reason));
      assert.deepEqual((lost[0]?.reason as ValidationError).fields.tech, { key: 'errors.request.pending', params: { id: winner.id, role: 'tech' } });
      const rows = (await f.knex('change_requests').where({ service_id: service.id }).select('id')) as { id: number }[];
      assert.deepEqual(rows.map((r) => Number(r.id)), [winner.id], 'the loser left nothing behind');
      assert.equal((await f.mails(winner.id)).length, 3);
    });

    it('refuses a malformed handle and an unknown handle, field by field', async () => {
      const { a, service } = await team();
      const before = await f.counts();
      const error = await rejectsField(f.domain.requests.submit(a.id, service.id, { tech: 'not a handle', billing: 'zz123456789-ovh' }, CTX), 'tech', 'errors.handle.format', {
        suffix: 'ovh',
      });
      assert.equal(error.fields.billing?.key, 'errors.handle.format', 'more than 8 digits is malformed too');
      await rejectsField(f.domain.requests.submit(a.id, service.id, { tech: 'ab123-other' }, CTX), 'tech', 'errors.handle.format');
      await rejectsField(f.domain.requests.submit(a.id, service.id, { billing: 'zz999999-ovh' }, CTX), 'billing', 'errors.handle.unknown', { handle: 'zz999999-ovh' });
      await rejectsField(f.domain.requests.submit(a.id, service.id, { admin: '' }, CTX), 'admin', 'errors.handle.required');
      assert.deepEqual(await f.counts(), before);
    });

    it('refuses a submission that changes nothing', async () => {
      const { a, t, b, service } = await team();
      const before = await f.counts();
      await rejectsField(f.domain.requests.submit(a.id, service.id, { admin: a.handle, tech: t.handle, billing: b.handle }, CTX), 'form', 'errors.request.noChange');
      await rejectsField(f.domain.requests.submit(a.id, service.id, {}, CTX), 'form', 'errors.request.noChange');
      assert.deepEqual(await f.counts(), before);
    });

    it('an outsider gets NotFound for submit, getForAccount and decide, and writes nothing', async () => {
      const { a, n, service } = await team();
      const [outsider] = (await f.accounts(1)) as [Account];
      const request = await submitOne(a, service, { tech: n.handle });
      const before = await f.counts();

      await rejectsWith(f.domain.requests.submit(outsider.id, service.id, { tech: outsider.handle }, CTX), NotFoundError);
      await rejectsWith(f.domain.requests.submit(outsider.id, 999_999, { tech: outsider.handle }, CTX), NotFoundError);
      await rejectsWith(f.domain.requests.getForAccount(request.id, outsider.id), NotFoundError);
      await rejectsWith(f.domain.requests.decide(request.id, outsider.id, { token: fakeToken(), decision: 'accept' }, CTX), NotFoundError);
      await rejectsWith(f.domain.requests.resend(request.id, outsider.id, CTX), NotFoundError);
      await rejectsWith(f.domain.requests.cancel(request.id, outsider.id, CTX), NotFoundError);
      assert.deepEqual(await f.counts(), before);
      assert.equal(await state(request), 'pending');
    });
  });

  // ------------------------------------------------------------------ decisions with tokens

  describe('decide: tokens and outcomes', () => {
    it('first acceptance waits for the other party; the second applies the change with events and outcome mails', async () => {
      const { a, t, b, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });

      const first = await decide(request, a);
      assert.equal(first.outcome, 'waiting');
      assert.equal(first.outcome === 'waiting' ? first.waitingFor : undefined, n.handle);
      assert.equal(first.request.state, 'pending');
      assert.equal(first.request.parties.find((p) => p.accountId === a.id)?.decision, 'accept');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: b.id });
      assert.deepEqual(await f.mailSummary(request.id, 'request.done'), []);

      f.clock.advance(60_000);
      const second = await decide(request, n);
      assert.equal(second.outcome, 'done');
      assert.equal(second.request.state, 'done');
      assert.equal(second.request.decidedAt, f.clock.now());
      assert.ok(second.request.parties.every((p) => p.decision === 'accept'));

      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: n.id, billing: b.id });
      assert.equal(await state(request), 'done');
      assert.deepEqual(await f.events(request.id), [
        { event: 'created', from_state: null, to_state: 'pending', actor_id: a.id },
        { event: 'accepted', from_state: 'pending', to_state: 'pending', actor_id: a.id },
        { event: 'accepted', from_state: 'pending', to_state: 'pending', actor_id: n.id },
        { event: 'applied', from_state: 'pending', to_state: 'done', actor_id: n.id },
      ]);
      // Everyone involved: requester/party a, incoming/party n, outgoing t — each once; b is not involved.
      assert.deepEqual(await f.mailSummary(request.id, 'request.done'), sortedLines(expectedMails('request.done', a, n, t)));
      assert.deepEqual(await f.activeRoles(service.id), [], 'the role is released');
      const { events } = await f.domain.requests.getForAccount(request.id, t.id);
      assert.deepEqual(
        events.map((e) => [e.event, e.actorHandle, e.at]),
        [
          ['created', a.handle, f.clock.now() - 60_000],
          ['accepted', a.handle, f.clock.now() - 60_000],
          ['accepted', n.handle, f.clock.now()],
          ['applied', n.handle, f.clock.now()],
        ],
        'who and when, readable by the outgoing contact',
      );
      const hashes = await f.knex('request_parties').where({ request_id: request.id }).whereNotNull('token_hash').count({ n: '*' }).first();
      assert.equal(Number((hashes as { n: number | string }).n), 0, 'no live token remains');
    });

    it('the last acceptance is one transaction: if its outbox write fails, nothing of it remains', async () => {
      const { a, t, b, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      await decide(request, a);
      const eventsBefore = await f.events(request.id);
      const mailsBefore = await f.mailSummary(request.id);

      const outbox = f.domain.outbox;
      const original = outbox.enqueueAboutRequests.bind(outbox);
      outbox.enqueueAboutRequests = async (trx, kind, requestIds, actorId) => {
        if (kind === 'request.done') throw new Error('outbox unavailable');
        return original(trx, kind, requestIds, actorId);
      };
      try {
        await assert.rejects(decide(request, n), /outbox unavailable/);
      } finally {
        outbox.enqueueAboutRequests = original;
      }

      assert.equal(await state(request), 'pending');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: b.id });
      assert.deepEqual(await f.events(request.id), eventsBefore);
      assert.deepEqual(await f.mailSummary(request.id), mailsBefore);
      assert.deepEqual(await f.activeRoles(service.id), ['tech']);
      // The token was not consumed either: the same mail still works once the outbox is back.
      assert.equal((await decide(request, n)).outcome, 'done');
      assert.equal((await f.contacts(service.id)).tech, n.id);
    });

    it('a reused token is refused as used', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const token = await f.tokenOf(request.id, a);
      await decide(request, a, 'accept', token);
      const before = await f.counts();
      await rejectsField(decide(request, a, 'accept', token), 'token', 'errors.token.used');
      await rejectsField(decide(request, a, 'refuse', token), 'token', 'errors.token.used');
      assert.deepEqual(await f.counts(), before);
      assert.equal(await state(request), 'pending');
    });

    it('a wrong token is refused as invalid; the other party\'s token is refused naming whose it is', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      await rejectsField(decide(request, a, 'accept', fakeToken()), 'token', 'errors.token.invalid');
      const others = await rejectsWith(decide(request, a, 'accept', await f.tokenOf(request.id, n)), ForbiddenError, 'errors.token.wrongAccount');
      assert.equal(others.params.handle, n.handle);
      assert.deepEqual(await f.domain.requests.viewForConfirmation(request.id, a.id, await f.tokenOf(request.id, n)), { wrongAccount: [n.handle] });
      await rejectsField(decide(request, a, 'accept', 'short'), 'token', 'errors.token.invalid');
      await rejectsField(decide(request, a, 'accept', '   '), 'token', 'errors.token.required');
      await rejectsWith(f.domain.requests.decide(request.id, a.id, { token: await f.tokenOf(request.id, a), decision: 'maybe' }, CTX), BadRequestError);
      assert.ok((await f.domain.requests.getForAccount(request.id, a.id)).request.parties.every((p) => p.decision === null));
      // The right token still works afterwards.
      assert.equal((await decide(request, a)).outcome, 'waiting');
    });

    it('a token of a request that was refused or cancelled is refused as closed', async () => {
      const { a, n, service } = await team();
      const refused = await submitOne(a, service, { tech: n.handle });
      await decide(refused, n, 'refuse');
      await rejectsField(decide(refused, a), 'token', 'errors.token.closed', { state: 'refused' });

      const cancelled = await submitOne(a, service, { tech: n.handle });
      await f.domain.requests.cancel(cancelled.id, a.id, CTX);
      await rejectsField(decide(cancelled, n), 'token', 'errors.token.closed', { state: 'cancelled' });
      await rejectsField(decide(cancelled, a, 'refuse'), 'token', 'errors.token.closed', { state: 'cancelled' });
    });

    it('a token past the expiry time is refused as expired, even before any sweep', async () => {
      const { a, t, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const token = await f.tokenOf(request.id, n);
      f.clock.advance(TTL);
      await rejectsField(decide(request, n, 'accept', token), 'token', 'errors.token.expired');
      await rejectsField(decide(request, a, 'refuse'), 'token', 'errors.token.expired');
      assert.equal(await state(request), 'pending', 'no sweep ran');
      assert.equal((await f.contacts(service.id)).tech, t.id);
      const { actions } = await f.domain.requests.getForAccount(request.id, n.id);
      assert.deepEqual(actions, { canDecide: false, canResend: false, canCancel: false, pastExpiry: true });
    });

    it('a valid token used by a logged-in account that is not involved is Forbidden, naming the handle it is for', async () => {
      const { a, t, n, service } = await team();
      const [other] = (await f.accounts(1)) as [Account];
      const request = await submitOne(a, service, { tech: n.handle });
      const token = await f.tokenOf(request.id, n);
      const before = await f.counts();

      const error = await rejectsWith(f.domain.requests.decide(request.id, other.id, { token, decision: 'accept' }, CTX), ForbiddenError, 'errors.token.wrongAccount');
      assert.equal(error.params.handle, n.handle);
      assert.deepEqual(await f.domain.requests.viewForConfirmation(request.id, other.id, token), { wrongAccount: [n.handle] });
      // The outgoing contact is involved (it sees the request) but is not a party: told whose it is too.
      const outgoing = await rejectsWith(f.domain.requests.decide(request.id, t.id, { token, decision: 'accept' }, CTX), ForbiddenError, 'errors.token.wrongAccount');
      assert.equal(outgoing.params.handle, n.handle);
      // Without a token of the request, a non-party is told who the parties are.
      const notParty = await rejectsWith(f.domain.requests.decide(request.id, t.id, { token: fakeToken(), decision: 'accept' }, CTX), ForbiddenError, 'errors.token.notAParty');
      assert.match(String(notParty.params.handles), new RegExp(n.handle));
      assert.deepEqual(await f.counts(), before);
      // The rightful owner can still use it.
      assert.equal((await decide(request, n, 'accept', token)).outcome, 'waiting');
      // Once the request is past its expiry the token is dead: nobody is told whose it was.
      f.clock.advance(TTL);
      await rejectsWith(f.domain.requests.viewForConfirmation(request.id, other.id, token), NotFoundError);
    });

    it('viewing the confirmation page decides nothing', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const before = await f.counts();
      const view = await f.domain.requests.viewForConfirmation(request.id, n.id, await f.tokenOf(request.id, n));
      assert.ok('request' in view);
      assert.equal(view.request.id, request.id);
      assert.deepEqual(view.actions, { canDecide: true, canResend: true, canCancel: false, pastExpiry: false });
      assert.deepEqual(await f.counts(), before);
      assert.ok((await f.domain.requests.getForAccount(request.id, n.id)).request.parties.every((p) => p.decision === null));
    });

    it('stores tokens only as SHA-256; tokens carry at least 128 random bits', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const rows = (await f.knex('request_parties').where({ request_id: request.id }).select('account_id', 'token_hash')) as { account_id: number; token_hash: string }[];
      assert.equal(rows.length, 2);
      for (const account of [a, n]) {
        const token = await f.tokenOf(request.id, account);
        assert.match(token, /^[A-Za-z0-9_-]{43,}$/);
        assert.ok(Buffer.from(token, 'base64url').length >= 16, 'at least 128 bits');
        const row = rows.find((r) => Number(r.account_id) === account.id);
        assert.notEqual(row?.token_hash, token);
        assert.equal(row?.token_hash, sha256(token));
        // The raw token appears nowhere else in the database.
        for (const table of ['change_requests', 'request_parties', 'request_roles', 'request_events', 'audit_log']) {
          const dump = JSON.stringify(await f.knex(table).select('*'));
          assert.ok(!dump.includes(token), `raw token found in ${table}`);
        }
      }
    });

    it('refusing ends the request, releases the roles, kills the other token and mails everyone', async () => {
      const { a, t, b, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const outcome = await decide(request, n, 'refuse');

      assert.equal(outcome.outcome, 'refused');
      assert.equal(outcome.request.state, 'refused');
      assert.equal(outcome.request.parties.find((p) => p.accountId === n.id)?.decision, 'refuse');
      assert.equal(await state(request), 'refused');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: b.id });
      assert.deepEqual((await f.events(request.id)).slice(1), [{ event: 'refused', from_state: 'pending', to_state: 'refused', actor_id: n.id }]);
      const refusedMails = await f.mails(request.id, 'request.refused');
      assert.deepEqual(refusedMails.map((m) => `${m.kind} ${m.to}`).sort(), sortedLines(expectedMails('request.refused', a, n, t)));
      assert.ok(refusedMails.every((m) => m.payload.actorHandle === n.handle && m.payload.token === undefined));
      assert.deepEqual(await f.activeRoles(service.id), []);
      await rejectsField(decide(request, a), 'token', 'errors.token.closed');

      const again = await submitOne(a, service, { tech: n.handle });
      assert.equal(again.state, 'pending');
    });

    it('two concurrent decisions with the same token: exactly one succeeds', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const token = await f.tokenOf(request.id, a);
      const results = await Promise.allSettled([decide(request, a, 'accept', token), decide(request, a, 'accept', token)]);

      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(fulfilled.length, 1);
      assert.equal(rejected.length, 1);
      assert.ok(rejected[0]?.reason instanceof ValidationError, String(rejected[0]?.reason));
      assert.equal((rejected[0]?.reason as ValidationError).fields.token?.key, 'errors.token.used');
      assert.equal((await f.events(request.id)).filter((e) => e.event === 'accepted').length, 1);
    });

    it('both parties accepting at the same moment apply the change exactly once', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const [tokenA, tokenN] = [await f.tokenOf(request.id, a), await f.tokenOf(request.id, n)];
      const outcomes = await Promise.all([decide(request, a, 'accept', tokenA), decide(request, n, 'accept', tokenN)]);

      assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['done', 'waiting']);
      assert.equal(await state(request), 'done');
      assert.equal((await f.contacts(service.id)).tech, n.id);
      assert.equal((await f.events(request.id)).filter((e) => e.event === 'applied').length, 1);
      assert.equal((await f.mails(request.id, 'request.done')).length, 3);
    });

    it('fails with contactsChanged when the outgoing contact is no longer current at the last acceptance', async () => {
      const { a, t, b, n, service } = await team();
      const [x] = (await f.accounts(1)) as [Account];
      const request = await submitOne(a, service, { tech: n.handle });
      await decide(request, a);
      await f.knex('services').where({ id: service.id }).update({ tech_id: x.id });

      const outcome = await decide(request, n);
      assert.equal(outcome.outcome, 'failed');
      assert.equal(outcome.outcome === 'failed' ? outcome.reason : undefined, 'contactsChanged');
      assert.deepEqual(await f.requestRow(request.id).then((r) => [r.state, r.failure_reason]), ['failed', 'contactsChanged']);
      assert.equal(outcome.request.failureReason, 'contactsChanged');
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: x.id, billing: b.id });
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'failed', from_state: 'pending', to_state: 'failed', actor_id: n.id });
      const failed = await f.mails(request.id, 'request.failed');
      assert.deepEqual(failed.map((m) => `${m.kind} ${m.to}`).sort(), sortedLines(expectedMails('request.failed', a, n, t)));
      assert.ok(failed.every((m) => m.payload.failureReason === 'contactsChanged'));
      assert.deepEqual(await f.activeRoles(service.id), []);
    });

    it('fails with requesterNoLongerAllowed when the requester lost the right to ask before the last acceptance', async () => {
      const { a, t, b, n, service } = await team();
      const [x] = (await f.accounts(1)) as [Account];
      const request = await submitOne(a, service, { tech: n.handle });
      await decide(request, a);
      // The administrator hands the role over (done by another request, or by the operator).
      await f.knex('services').where({ id: service.id }).update({ admin_id: x.id });

      const outcome = await decide(request, n);
      assert.equal(outcome.outcome === 'failed' ? outcome.reason : outcome.outcome, 'requesterNoLongerAllowed');
      assert.deepEqual(await f.requestRow(request.id).then((r) => [r.state, r.failure_reason]), ['failed', 'requesterNoLongerAllowed']);
      assert.deepEqual(await f.contacts(service.id), { admin: x.id, tech: t.id, billing: b.id });
      assert.ok((await f.mails(request.id, 'request.failed')).every((m) => m.payload.failureReason === 'requesterNoLongerAllowed'));
      assert.deepEqual(await f.activeRoles(service.id), []);
    });

    it('a hand-over of the administrator role committed while the last acceptance waits for the service is seen by it', async () => {
      const { a, t, b, n, service } = await team();
      const [x] = (await f.accounts(1)) as [Account];
      const request = await submitOne(a, service, { tech: n.handle });
      await decide(request, a);
      const tokenN = await f.tokenOf(request.id, n);
      // Another connection holds the service's row (SQLite: the write lock), as a concurrent
      // request handing the administrator role over would.
      const other = f.db.connect();
      try {
        const holder = await other.transaction();
        await holder('services').where({ id: service.id }).update({ updated_at: f.clock.now() });
        const outcome = decide(request, n, 'accept', tokenN);
        // Until the acceptance waits for that row.
        await untilALockIsAwaited(f.db, 200);
        await holder('services').where({ id: service.id }).update({ admin_id: x.id });
        await holder.commit();
        const result = await outcome;
        assert.equal(result.outcome === 'failed' ? result.reason : result.outcome, 'requesterNoLongerAllowed');
      } finally {
        await other.destroy();
      }
      assert.deepEqual(await f.contacts(service.id), { admin: x.id, tech: t.id, billing: b.id });
    });

    it('a requester holding another role keeps only that role\'s rights: an administrator who became billing only', async () => {
      const [a, t, n, x] = (await f.accounts(4)) as [Account, Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: a });
      const techChange = await submitOne(a, service, { tech: n.handle });
      const billingChange = await submitOne(a, service, { billing: n.handle });
      for (const request of [techChange, billingChange]) await decide(request, a);
      await f.knex('services').where({ id: service.id }).update({ admin_id: x.id });

      // Still the billing contact: may still replace itself, no longer the technical contact.
      assert.equal((await decide(techChange, n)).outcome, 'failed');
      assert.equal((await f.requestRow(techChange.id)).failure_reason, 'requesterNoLongerAllowed');
      assert.equal((await decide(billingChange, n)).outcome, 'done');
      assert.deepEqual(await f.contacts(service.id), { admin: x.id, tech: t.id, billing: n.id });
    });

    it('fails with billingOverdue when the incoming account becomes overdue before the last acceptance', async () => {
      const { a, t, b, n, service } = await team();
      const request = await submitOne(a, service, { billing: n.handle });
      await decide(request, a);
      await f.domain.accounts.setBillingStatus(n.handle, true);

      const outcome = await decide(request, n);
      assert.equal(outcome.outcome, 'failed');
      assert.equal(outcome.outcome === 'failed' ? outcome.reason : undefined, 'billingOverdue');
      assert.deepEqual(await f.requestRow(request.id).then((r) => [r.state, r.failure_reason]), ['failed', 'billingOverdue']);
      assert.deepEqual(await f.contacts(service.id), { admin: a.id, tech: t.id, billing: b.id }, 'contacts unchanged');
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'failed', from_state: 'pending', to_state: 'failed', actor_id: n.id });
      assert.deepEqual(await f.mailSummary(request.id, 'request.failed'), sortedLines(expectedMails('request.failed', a, n, b)));
      assert.deepEqual(await f.mailSummary(request.id, 'request.done'), []);
    });

    it('fails with billingOverdue when the outgoing billing account becomes overdue before the last acceptance', async () => {
      const { a, b, n, service } = await team();
      const request = await submitOne(a, service, { billing: n.handle });
      await decide(request, n);
      await f.domain.accounts.setBillingStatus(b.handle, true);
      const outcome = await decide(request, a);
      assert.equal(outcome.outcome === 'failed' ? outcome.reason : outcome.outcome, 'billingOverdue');
      assert.equal((await f.contacts(service.id)).billing, b.id);
    });
  });

  // ------------------------------------------------------------------ resend

  describe('resend', () => {
    it('sends a new confirm mail with a new token; the old token dies, the new one works', async () => {
      const { a, t, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const old = await f.tokenOf(request.id, n);
      const tokenA = await f.tokenOf(request.id, a);

      await f.domain.requests.resend(request.id, n.id, CTX);
      const confirms = (await f.mails(request.id, 'request.confirm')).filter((m) => m.to === n.email);
      assert.equal(confirms.length, 2);
      const fresh = await f.tokenOf(request.id, n);
      assert.notEqual(fresh, old);
      assert.equal(await f.tokenOf(request.id, a), tokenA, 'the other party keeps its token');
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'resent', from_state: 'pending', to_state: 'pending', actor_id: n.id });

      // The older mail's code is told apart from a wrong one (kept as a hash only).
      assert.equal((await f.partyHashes(request.id, n)).replaced_token_hash, sha256(old));
      await rejectsField(decide(request, n, 'accept', old), 'token', 'errors.token.replaced');
      await rejectsField(decide(request, n, 'accept', fakeToken()), 'token', 'errors.token.invalid');
      assert.equal((await decide(request, n, 'accept', fresh)).outcome, 'waiting');
      assert.deepEqual(await f.partyHashes(request.id, n), { token_hash: null, replaced_token_hash: null }, 'no hash kept once decided');
      await rejectsField(decide(request, n, 'accept', old), 'token', 'errors.token.used');
      // Once decided, there is nothing to resend.
      await rejectsField(f.domain.requests.resend(request.id, n.id, CTX), 'form', 'errors.request.cannotResend');
      // And an involved non-party (the outgoing contact) has no token to resend.
      await rejectsField(f.domain.requests.resend(request.id, t.id, CTX), 'form', 'errors.request.cannotResend');
    });

    it('only the code of the mail just before the newest is told apart: one two mails back is invalid', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const first = await f.tokenOf(request.id, n);
      await f.domain.requests.resend(request.id, n.id, CTX);
      const second = await f.tokenOf(request.id, n);
      await f.domain.requests.resend(request.id, n.id, CTX);
      await rejectsField(decide(request, n, 'accept', second), 'token', 'errors.token.replaced');
      await rejectsField(decide(request, n, 'accept', first), 'token', 'errors.token.invalid');
      assert.equal((await decide(request, n, 'accept', await f.tokenOf(request.id, n))).outcome, 'waiting');
    });

    it('allows three resends an hour, then answers RateLimited', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      for (let i = 0; i < 3; i += 1) {
        await f.domain.requests.resend(request.id, n.id, CTX);
        f.clock.advance(60_000);
      }
      const before = await f.counts();
      const error = await rejectsWith(f.domain.requests.resend(request.id, n.id, CTX), RateLimitedError);
      assert.ok(error.retryAfterSeconds > 0 && error.retryAfterSeconds <= 3600);
      assert.deepEqual(await f.counts(), before);
      // The other party has its own allowance.
      await f.domain.requests.resend(request.id, a.id, CTX);
      // An hour after the first resend, one more is allowed.
      f.clock.advance(HOUR - 3 * 60_000 + 1);
      await f.domain.requests.resend(request.id, n.id, CTX);
      assert.equal((await f.mails(request.id, 'request.confirm')).filter((m) => m.to === n.email).length, 5);
    });

    it('does not resend for a request that another transaction closes while the resend waits for it', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const before = await f.partyHashes(request.id, n);
      // Another connection holds the request's row (SQLite: the write lock), as the sweep or the
      // requester cancelling it would. (Passes on SQLite either way, where writers run one at a
      // time; the PostgreSQL run of the suite is the one that checks the lock.)
      const other = f.db.connect();
      try {
        const holder = await other.transaction();
        await holder('change_requests').where({ id: request.id }).update({ state: 'cancelled', decided_at: f.clock.now() });
        const resending = f.domain.requests.resend(request.id, n.id, CTX);
        // Kept from counting as unhandled while the lock is awaited.
        resending.catch(() => undefined);
        await untilALockIsAwaited(f.db, 200);
        await holder.commit();
        await rejectsField(resending, 'form', 'errors.request.cannotResend');
      } finally {
        await other.destroy();
      }
      assert.equal((await f.mails(request.id, 'request.confirm')).filter((m) => m.to === n.email).length, 1, 'no new code mailed');
      assert.deepEqual(await f.partyHashes(request.id, n), before);
    });
  });

  // ------------------------------------------------------------------ cancel

  describe('cancel', () => {
    it('the requester cancels: cancelled, everyone mailed, tokens dead, role released', async () => {
      const { a, t, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const [tokenA, tokenN] = [await f.tokenOf(request.id, a), await f.tokenOf(request.id, n)];

      const cancelled = await f.domain.requests.cancel(request.id, a.id, CTX);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(await state(request), 'cancelled');
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'cancelled', from_state: 'pending', to_state: 'cancelled', actor_id: a.id });
      assert.deepEqual(await f.mailSummary(request.id, 'request.cancelled'), sortedLines(expectedMails('request.cancelled', a, n, t)));
      assert.ok((await f.mails(request.id, 'request.cancelled')).every((m) => m.payload.actorHandle === a.handle && m.payload.token === undefined));
      await rejectsField(decide(request, a, 'accept', tokenA), 'token', 'errors.token.closed');
      await rejectsField(decide(request, n, 'accept', tokenN), 'token', 'errors.token.closed');
      assert.deepEqual(await f.activeRoles(service.id), []);
      // Cancelling twice is refused.
      await rejectsField(f.domain.requests.cancel(request.id, a.id, CTX), 'form', 'errors.request.cannotCancel');
    });

    it('the service administrator may cancel a request it did not make', async () => {
      const [a, t, s] = (await f.accounts(3)) as [Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: a });
      const request = await submitOne(t, service, { tech: s.handle });

      const { actions } = await f.domain.requests.getForAccount(request.id, a.id);
      assert.deepEqual(actions, { canDecide: false, canResend: false, canCancel: true, pastExpiry: false });
      const cancelled = await f.domain.requests.cancel(request.id, a.id, CTX);
      assert.equal(cancelled.state, 'cancelled');
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'cancelled', from_state: 'pending', to_state: 'cancelled', actor_id: a.id });
      // Everyone the request concerns — the requester (also outgoing) and the incoming party — and the
      // administrator who cancelled it, named as the actor in every mail.
      assert.deepEqual(await f.mailSummary(request.id, 'request.cancelled'), sortedLines(expectedMails('request.cancelled', t, s, a)));
      assert.ok((await f.mails(request.id, 'request.cancelled')).every((m) => m.payload.actorHandle === a.handle));
      assert.deepEqual(await f.activeRoles(service.id), []);
    });

    it('the incoming contact who is neither requester nor administrator may not cancel', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const before = await f.counts();
      await rejectsField(f.domain.requests.cancel(request.id, n.id, CTX), 'form', 'errors.request.cannotCancel');
      assert.equal(await state(request), 'pending');
      assert.deepEqual(await f.counts(), before);
    });
  });

  // ------------------------------------------------------------------ sweeps

  describe('mail: what closing a request writes', () => {
    /**
     * The database writes these mails itself (Outbox.enqueueAboutRequests); they must be what the
     * TypeScript payload builder would write: recipients in order (requester, outgoing, incoming,
     * the parties as recorded, then the actor, each once), their columns, and the payload's text.
     */
    async function assertClosingMails(closed: ChangeRequest, kind: string, actor?: Account): Promise<void> {
      const requestId = closed.id;
      const { request } = await f.domain.requests.getForAccount(requestId, closed.requester.id);
      const order = [...new Set([request.requester.id, request.from.id, request.to.id, ...request.parties.map((p) => p.accountId), ...(actor ? [actor.id] : [])])];
      const rows = (await f.knex('outbox').where({ request_id: requestId, kind }).orderBy('id').select('recipient_address', 'recipient_name', 'locale', 'time_zone', 'payload')) as {
        recipient_address: string;
        recipient_name: string;
        locale: string;
        time_zone: string | null;
        payload: string;
      }[];
      const expected = [];
      for (const id of order) {
        const account = (await f.domain.accounts.findById(id)) as Account;
        // The zone as stored: one this runtime does not know is read as none when the mail is rendered.
        const stored = (await f.knex('accounts').where({ id }).first('time_zone')) as { time_zone: string | null };
        expected.push({
          recipient_address: account.email,
          recipient_name: account.name,
          locale: account.locale,
          time_zone: stored.time_zone,
          payload: JSON.stringify(requestMailPayload(request, account.handle, { actorHandle: actor?.handle })),
        });
      }
      assert.deepEqual(rows, expected, `${kind} mails of request ${requestId}`);
    }

    it('every closing writes each mail as the payload builder would, text for text, in the order of the recipients', async () => {
      const { a, t, b, n, service } = await team();
      // Characters JSON must escape, and some it must not, where a payload shows names.
      await f.knex('services').where({ id: service.id }).update({ name: 'Say "hi" \\ café – 🎉 <b>&amp; /\t\n\u0001\u001f\u007f\u2028' });
      await f.knex('accounts').where({ id: n.id }).update({ name: 'N. "Quote" \\ Ünïcödé', time_zone: 'Europe/Paris', locale: 'pt' });
      // A locale this version does not know is written as English, as toAccount reads it.
      await f.knex('accounts').where({ id: t.id }).update({ locale: 'xx', time_zone: 'Atlantis/Capital' });

      // Expired: no actor, no failure reason. A party none of the three others are (no request has
      // one today, but the rule mails the parties too), recorded after the other two.
      const expired = await submitOne(a, service, { tech: n.handle });
      const [outsider] = (await f.accounts(1)) as [Account];
      await f.knex('request_parties').insert({ request_id: expired.id, account_id: outsider.id, token_hash: null, token_issued_at: f.clock.now() });
      f.clock.advance(TTL);
      assert.ok((await f.domain.requests.expireDue()) >= 1);
      assert.equal(await state(expired), 'expired');
      await assertClosingMails(expired, 'request.expired');
      assert.equal((await f.mails(expired.id, 'request.expired')).at(-1)?.to, outsider.email, 'the outsider party is mailed last');

      // Cancelled by the administrator, who did not ask: the actor is mailed last.
      const cancelled = await submitOne(b, service, { billing: n.handle });
      await f.domain.requests.cancel(cancelled.id, a.id, CTX);
      await assertClosingMails(cancelled, 'request.cancelled', a);

      // Refused by the incoming contact.
      const refused = await submitOne(a, service, { tech: n.handle });
      await decide(refused, n, 'refuse');
      await assertClosingMails(refused, 'request.refused', n);

      // Failed, with its reason: the contact changed before the last acceptance.
      const failed = await submitOne(a, service, { tech: n.handle });
      await decide(failed, a);
      await f.knex('services').where({ id: service.id }).update({ tech_id: b.id });
      assert.equal((await decide(failed, n)).outcome, 'failed');
      await assertClosingMails(failed, 'request.failed', n);

      // Done, with two roles in one request.
      const [s] = (await f.accounts(1)) as [Account];
      const shared = await f.service({ admin: a, tech: t, billing: t });
      const done = await submitOne(a, shared, { tech: s.handle, billing: s.handle });
      assert.deepEqual(done.roles, ['tech', 'billing']);
      await decide(done, a);
      assert.equal((await decide(done, s)).outcome, 'done');
      await assertClosingMails(done, 'request.done', s);
    });
  });

  describe('expiry and reminders', () => {
    /** Makes the database refuse 'expired' events (of one request, or all) until the answered function runs. */
    async function refuseExpiredEvents(requestId?: number): Promise<() => Promise<void>> {
      const postgres = f.knex.client.config.client === 'pg';
      const condition = `NEW.event = 'expired'${requestId === undefined ? '' : ` AND NEW.request_id = ${requestId}`}`;
      if (postgres) {
        await f.knex.raw(`CREATE FUNCTION test_refuse_expired_event() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF ${condition} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
        await f.knex.raw('CREATE TRIGGER test_refuse_expired_event BEFORE INSERT ON request_events FOR EACH ROW EXECUTE FUNCTION test_refuse_expired_event()');
      } else {
        await f.knex.raw(`CREATE TRIGGER test_refuse_expired_event BEFORE INSERT ON request_events WHEN ${condition}
          BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
      }
      return async () => {
        await f.knex.raw('DROP TRIGGER test_refuse_expired_event' + (postgres ? ' ON request_events' : ''));
        if (postgres) await f.knex.raw('DROP FUNCTION test_refuse_expired_event()');
      };
    }

    it('expireDue expires due requests once, kills their tokens and mails everyone; later requests untouched', async () => {
      const { a, t, n, service } = await team();
      const due = await submitOne(a, service, { tech: n.handle });
      const tokenA = await f.tokenOf(due.id, a);
      f.clock.advance(TTL - HOUR);
      const later = await submitOne(a, service, { billing: n.handle });
      f.clock.advance(HOUR);

      assert.ok((await f.domain.requests.expireDue()) >= 1);
      assert.equal(await state(due), 'expired');
      assert.equal((await f.requestRow(due.id)).decided_at, f.clock.now());
      assert.deepEqual((await f.events(due.id)).at(-1), { event: 'expired', from_state: 'pending', to_state: 'expired', actor_id: null });
      assert.deepEqual(await f.mailSummary(due.id, 'request.expired'), sortedLines(expectedMails('request.expired', a, n, t)));
      // A sweep writes hundreds of thousands of payloads: no empty fields in them.
      for (const mail of await f.mails(due.id, 'request.expired')) assert.deepEqual(Object.keys(mail.payload).filter((key) => ['failureReason', 'actorHandle', 'token'].includes(key)), []);
      await rejectsField(decide(due, a, 'accept', tokenA), 'token', 'errors.token.closed', { state: 'expired' });
      assert.deepEqual(await f.activeRoles(service.id), ['billing']);

      assert.equal(await state(later), 'pending');
      assert.deepEqual(await f.mailSummary(later.id, 'request.expired'), []);

      const before = await f.counts();
      assert.equal(await f.domain.requests.expireDue(), 0, 'idempotent');
      assert.deepEqual(await f.counts(), before);
      assert.equal(await state(due), 'expired');
    });

    it('a write that fails during expiry undoes the whole batch: still pending, roles held, tokens live, no mail', async () => {
      const { a, n, service } = await team();
      const due = await submitOne(a, service, { tech: n.handle });
      const tokenN = await f.tokenOf(due.id, n);
      f.clock.advance(TTL);
      // The event INSERT comes after the request's, roles' and tokens' writes, which are undone with it.
      const allowEvents = await refuseExpiredEvents();
      try {
        await assert.rejects(f.domain.requests.expireDue(), /refused by the test/);
      } finally {
        await allowEvents();
      }
      assert.equal(await state(due), 'pending');
      assert.deepEqual(await f.activeRoles(service.id), ['tech']);
      assert.deepEqual(await f.mailSummary(due.id, 'request.expired'), []);
      assert.equal((await f.events(due.id)).at(-1)?.event, 'created');
      assert.equal((await f.partyHashes(due.id, n)).token_hash, sha256(tokenN), 'the token is still live');

      assert.ok((await f.domain.requests.expireDue()) >= 1);
      assert.equal(await state(due), 'expired');
    });

    it('expireDue runs two batches at once on PostgreSQL (one after the other on SQLite); a batch that fails leaves only its own requests pending', async () => {
      const { a, t, b, n } = await team();
      const services: Service[] = [];
      for (let i = 0; i < 4; i++) services.push(await f.service({ admin: a, tech: t, billing: b }));
      const requests: ChangeRequest[] = [];
      for (const service of services) {
        requests.push(await submitOne(a, service, { tech: n.handle }));
        // Their expiries, and so the sweep's order, follow the list.
        f.clock.advance(60_000);
      }
      f.clock.advance(TTL);
      const [r1, r2, r3, r4] = requests as [ChangeRequest, ChangeRequest, ChangeRequest, ChangeRequest];
      const postgres = f.knex.client.config.client === 'pg';
      // The third request's event is refused: the second batch (the third and fourth requests) fails.
      const allowEvents = await refuseExpiredEvents(r3.id);
      // Two connections open and idle in the pool, so that neither batch waits for one to be made
      // while the other runs.
      if (postgres) await Promise.all([f.knex.raw('SELECT pg_sleep(0.05)'), f.knex.raw('SELECT pg_sleep(0.05)')]);
      // Which transaction each statement ran in, in the order they were sent.
      const sent: { trx: string; sql: string }[] = [];
      const onQuery = (query: { __knexTxId?: string; sql: string }) => sent.push({ trx: query.__knexTxId ?? '', sql: query.sql });
      f.knex.on('query', onQuery);
      try {
        await assert.rejects(f.domain.requests.expireDue({ batchSize: 2 }), /refused by the test/);
      } finally {
        f.knex.off('query', onQuery);
        await allowEvents();
      }
      const updates = sent.filter((query) => /^update ["`]change_requests["`]/i.test(query.sql.trim()));
      const transactions = [...new Set(updates.map((query) => query.trx))];
      assert.equal(transactions.length, 2, 'two batches, each in its own transaction');
      // Overlapping: the second batch's UPDATE was sent before the first batch's transaction ended.
      const firstEnd = sent.findIndex((query) => query.trx === transactions[0] && /^(commit|rollback)/i.test(query.sql.trim()));
      const secondUpdate = sent.findIndex((query) => query === updates.find((update) => update.trx === transactions[1]));
      assert.ok(firstEnd >= 0, 'the first batch ended');
      assert.equal(secondUpdate < firstEnd, postgres, postgres ? 'the batches ran at once' : 'the batches ran one after the other');

      assert.deepEqual(await Promise.all(requests.map(state)), ['expired', 'expired', 'pending', 'pending']);
      assert.deepEqual(await f.activeRoles((services[2] as Service).id), ['tech'], 'the failed batch still holds its roles');
      assert.deepEqual(await f.mailSummary(r3.id, 'request.expired'), []);
      assert.deepEqual(await f.mailSummary(r4.id, 'request.expired'), []);

      // The next sweep takes up the rest; nobody is mailed twice.
      assert.equal(await f.domain.requests.expireDue({ batchSize: 2 }), 2);
      for (const request of [r1, r2, r3, r4]) {
        assert.equal(await state(request), 'expired');
        assert.deepEqual(await f.mailSummary(request.id, 'request.expired'), sortedLines(expectedMails('request.expired', a, n, t)));
        assert.deepEqual((await f.events(request.id)).filter((event) => event.event === 'expired').length, 1);
      }
    });

    it('after a batch fails, expireDue begins no further batch; the next sweep takes up the rest', async () => {
      const { a, t, b, n } = await team();
      const requests: ChangeRequest[] = [];
      for (let i = 0; i < 5; i++) {
        requests.push(await submitOne(a, await f.service({ admin: a, tech: t, billing: b }), { tech: n.handle }));
        // Their expiries, and so the sweep's order, follow the list.
        f.clock.advance(60_000);
      }
      f.clock.advance(TTL);
      // One batch at a time: the second (the third and fourth requests) fails, the third is not begun.
      const allowEvents = await refuseExpiredEvents((requests[2] as ChangeRequest).id);
      try {
        await assert.rejects(f.domain.requests.expireDue({ batchSize: 2, concurrency: 1 }), /refused by the test/);
      } finally {
        await allowEvents();
      }
      assert.deepEqual(await Promise.all(requests.map(state)), ['expired', 'expired', 'pending', 'pending', 'pending']);
      assert.equal(await f.domain.requests.expireDue({ batchSize: 2, concurrency: 1 }), 3);
      assert.deepEqual(await Promise.all(requests.map(state)), ['expired', 'expired', 'expired', 'expired', 'expired']);
      for (const request of requests) assert.deepEqual(await f.mailSummary(request.id, 'request.expired'), sortedLines(expectedMails('request.expired', a, n, t)));
    });

    it('expireDue reads the due requests again when it has swept all it read', async () => {
      const { a, t, b, n } = await team();
      const requests: ChangeRequest[] = [];
      for (let i = 0; i < 6; i++) requests.push(await submitOne(a, await f.service({ admin: a, tech: t, billing: b }), { tech: n.handle }));
      f.clock.advance(TTL);
      // One request per batch, one batch at a time: four are read at once, then the other two.
      const reads: string[] = [];
      const onQuery = (query: { sql: string }) => {
        if (/^select ["`]id["`] from ["`]change_requests["`]/i.test(query.sql.trim())) reads.push(query.sql);
      };
      f.knex.on('query', onQuery);
      let expired: number;
      try {
        expired = await f.domain.requests.expireDue({ batchSize: 1, concurrency: 1 });
      } finally {
        f.knex.off('query', onQuery);
      }
      assert.ok(expired >= 6);
      assert.ok(reads.length >= 2, `read ${reads.length} times`);
      for (const request of requests) {
        assert.equal(await state(request), 'expired');
        assert.equal((await f.events(request.id)).filter((event) => event.event === 'expired').length, 1);
        assert.deepEqual(await f.mailSummary(request.id, 'request.expired'), sortedLines(expectedMails('request.expired', a, n, t)));
      }
    });

    it('a request past its expiry no longer holds its role before the sweep: a new request expires it first', async () => {
      const { a, t, n, service } = await team();
      const [x] = (await f.accounts(1)) as [Account];
      const stale = await submitOne(a, service, { tech: n.handle });
      f.clock.advance(TTL);
      assert.equal(await state(stale), 'pending', 'no sweep ran');

      const fresh = await submitOne(a, service, { tech: x.handle });
      assert.equal(await state(stale), 'expired');
      assert.deepEqual((await f.events(stale.id)).at(-1), { event: 'expired', from_state: 'pending', to_state: 'expired', actor_id: null });
      assert.deepEqual(await f.mailSummary(stale.id, 'request.expired'), sortedLines(expectedMails('request.expired', a, n, t)));
      assert.equal(await state(fresh), 'pending');
      assert.deepEqual(await f.activeRoles(service.id), ['tech']);
      // The sweep that comes later mails nobody twice.
      await f.domain.requests.expireDue();
      assert.equal((await f.mailSummary(stale.id, 'request.expired')).length, expectedMails('request.expired', a, n, t).length);
    });

    it('remindDue leaves out a request whose whole life is shorter than the reminder window', async () => {
      const { a, n, service } = await team();
      const short = await submitOne(a, service, { tech: n.handle });
      const hashes = async () => f.knex('request_parties').where({ request_id: short.id }).orderBy('account_id').pluck('token_hash');
      const before = await hashes();
      // As with REQUEST_TTL=12h and REMIND_BEFORE=1 day: in the window from its creation on.
      await f.knex('change_requests').where({ id: short.id }).update({ expires_at: f.clock.now() + 12 * HOUR });
      await f.domain.requests.remindDue(DAY);
      assert.deepEqual(await f.mailSummary(short.id, 'request.reminder'), []);
      assert.deepEqual(await hashes(), before, 'the first mail\'s tokens still work');
      assert.equal(((await f.knex('change_requests').where({ id: short.id }).first('reminded_at')) as { reminded_at: number | null }).reminded_at, null);
    });

    it('remindDue sends one reminder with a fresh token to each undecided party, once', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const oldN = await f.tokenOf(request.id, n);
      await decide(request, a);
      const notYet = await submitOne(a, service, { billing: n.handle });
      f.clock.advance(TTL - 12 * HOUR);
      // `notYet` expires at the same time as `request`; move it out of the window.
      await f.knex('change_requests').where({ id: notYet.id }).update({ expires_at: f.clock.now() + 3 * DAY });

      assert.ok((await f.domain.requests.remindDue(DAY)) >= 1);
      const reminders = await f.mails(request.id, 'request.reminder');
      assert.deepEqual(reminders.map((m) => m.to), [n.email], 'only the undecided party');
      assert.deepEqual(await f.mailSummary(notYet.id, 'request.reminder'), []);
      assert.deepEqual((await f.events(request.id)).at(-1), { event: 'reminded', from_state: 'pending', to_state: 'pending', actor_id: null });

      assert.equal(await f.domain.requests.remindDue(DAY), 0);
      assert.equal((await f.mails(request.id, 'request.reminder')).length, 1, 'sent once');

      const fresh = await f.tokenOf(request.id, n, 'request.reminder');
      assert.notEqual(fresh, oldN);
      await rejectsField(decide(request, n, 'accept', oldN), 'token', 'errors.token.replaced');
      assert.equal((await decide(request, n, 'accept', fresh)).outcome, 'done');
    });

    it('remindDue does not remind a request that another transaction closes while the reminder waits for it', async () => {
      const { a, n, service } = await team();
      const request = await submitOne(a, service, { tech: n.handle });
      const hashes = async () => Promise.all([a, n].map((party) => f.partyHashes(request.id, party)));
      const before = await hashes();
      f.clock.advance(TTL - 12 * HOUR);
      // Another connection holds the request's row (SQLite: the write lock), as a sweep or a
      // party's refusal closing it would. (SQLite writers run one at a time, so there this passes
      // either way; the PostgreSQL run of the suite is the one that checks the claim.)
      const other = f.db.connect();
      try {
        const holder = await other.transaction();
        await holder('change_requests').where({ id: request.id }).update({ state: 'cancelled', decided_at: f.clock.now() });
        const reminding = f.domain.requests.remindDue(DAY);
        await untilALockIsAwaited(f.db, 200);
        await holder.commit();
        assert.equal(await reminding, 0);
      } finally {
        await other.destroy();
      }
      assert.deepEqual(await f.mailSummary(request.id, 'request.reminder'), []);
      assert.deepEqual(await hashes(), before, 'no code renewed');
      assert.equal(((await f.knex('change_requests').where({ id: request.id }).first('reminded_at')) as { reminded_at: number | null }).reminded_at, null);
    });
  });

  // ------------------------------------------------------------------ "My requests"

  describe('listForAccount', () => {
    it('lists what the account is involved in, pending first, filters by state, with the right actions', async () => {
      const { a, t, b, n, service } = await team();
      const [u] = (await f.accounts(1)) as [Account];
      const own = await f.service({ admin: u, tech: u, billing: u });

      const pending = await submitOne(a, service, { tech: n.handle });
      f.clock.advance(60_000);
      const refused = await submitOne(a, service, { billing: n.handle });
      await decide(refused, n, 'refuse');
      const unrelated = await submitOne(u, own, { tech: b.handle });

      const listIds = async (account: Account, filter: { state?: 'pending' | 'refused' | 'done' } = {}) =>
        (await f.domain.requests.listForAccount(account.id, filter)).rows.map((row) => row.request.id);

      assert.deepEqual(await listIds(a), [pending.id, refused.id], 'requester: pending first, though older');
      assert.deepEqual(await listIds(n), [pending.id, refused.id], 'party');
      assert.deepEqual(await listIds(t), [pending.id], 'outgoing contact of the pending one only');
      // b: outgoing contact of the refused request, and incoming party of u's (pending) one.
      assert.deepEqual(await listIds(b), [unrelated.id, refused.id]);
      assert.deepEqual(await listIds(u), [unrelated.id], 'unrelated requests are excluded');

      assert.deepEqual(await listIds(a, { state: 'refused' }), [refused.id]);
      assert.deepEqual(await listIds(a, { state: 'pending' }), [pending.id]);
      assert.deepEqual(await listIds(a, { state: 'done' }), []);
      const page = await f.domain.requests.listForAccount(a.id, {});
      assert.equal(page.total, 2);
      assert.equal(page.page, 1);

      const actionsOf = async (account: Account, id: number) =>
        (await f.domain.requests.listForAccount(account.id, {})).rows.find((row) => row.request.id === id)?.actions;
      assert.deepEqual(await actionsOf(a, pending.id), { canDecide: true, canResend: true, canCancel: true, pastExpiry: false });
      assert.deepEqual(await actionsOf(n, pending.id), { canDecide: true, canResend: true, canCancel: false, pastExpiry: false });
      assert.deepEqual(await actionsOf(t, pending.id), { canDecide: false, canResend: false, canCancel: false, pastExpiry: false });
      assert.deepEqual(await actionsOf(a, refused.id), { canDecide: false, canResend: false, canCancel: false, pastExpiry: false });

      await decide(pending, a);
      assert.deepEqual(await actionsOf(a, pending.id), { canDecide: false, canResend: false, canCancel: true, pastExpiry: false });
      assert.deepEqual(await actionsOf(n, pending.id), { canDecide: true, canResend: true, canCancel: false, pastExpiry: false });
    });

    it('shows the administrator a request made by its technical contact', async () => {
      const [a, t, s, x] = (await f.accounts(4)) as [Account, Account, Account, Account];
      const service = await f.service({ admin: a, tech: t, billing: x });
      const request = await submitOne(t, service, { tech: s.handle });
      const adminView = await f.domain.requests.listForAccount(a.id, {});
      assert.deepEqual(adminView.rows.map((row) => row.request.id), [request.id]);
      assert.deepEqual((await f.domain.requests.listForAccount(x.id, {})).rows, [], 'the billing contact is not involved');
      await rejectsWith(f.domain.requests.getForAccount(request.id, x.id), NotFoundError);
      const detail = await f.domain.requests.getForAccount(request.id, a.id);
      assert.deepEqual(detail.events.map((e) => [e.event, e.actorHandle]), [['created', t.handle]]);
    });
  });

  describe('mail: the recipient\'s time zone', () => {
    const zonesOf = async (requestId: number, kind: string) =>
      Object.fromEntries(
        ((await f.knex('outbox').where({ request_id: requestId, kind }).select('recipient_address', 'time_zone')) as { recipient_address: string; time_zone: string | null }[]).map(
          (row) => [row.recipient_address, row.time_zone],
        ),
      );

    it('each mail keeps the zone its recipient chose when it was written (NULL = automatic), on every path', async () => {
      const { a, t, n, service } = await team();
      await f.domain.accounts.changeTimeZone(n.id, 'Asia/Tokyo', CTX);
      await f.domain.accounts.changeTimeZone(t.id, 'UTC', CTX);
      const request = await submitOne(a, service, { tech: n.handle });
      assert.deepEqual(await zonesOf(request.id, 'request.confirm'), { [a.email]: null, [n.email]: 'Asia/Tokyo' });
      assert.deepEqual(await zonesOf(request.id, 'request.inform'), { [t.email]: 'UTC' });

      // Closing mails are written by the database from the accounts: the zones come along.
      await decide(request, a);
      await f.domain.accounts.changeTimeZone(a.id, 'America/New_York', CTX);
      await decide(request, n);
      assert.deepEqual(await zonesOf(request.id, 'request.done'), { [a.email]: 'America/New_York', [n.email]: 'Asia/Tokyo', [t.email]: 'UTC' });
    });

    it('expiry and reminders mail each party in its zone too', async () => {
      const { a, n, service } = await team();
      await f.domain.accounts.changeTimeZone(n.id, 'Pacific/Auckland', CTX);
      const request = await submitOne(a, service, { tech: n.handle });
      f.clock.advance(TTL - HOUR);
      await f.domain.requests.remindDue(DAY);
      assert.deepEqual(await zonesOf(request.id, 'request.reminder'), { [a.email]: null, [n.email]: 'Pacific/Auckland' });
      f.clock.advance(2 * HOUR);
      await f.domain.requests.expireDue();
      assert.equal((await f.requestRow(request.id)).state, 'expired');
      assert.equal((await zonesOf(request.id, 'request.expired'))[n.email], 'Pacific/Auckland');
    });
  });
});
