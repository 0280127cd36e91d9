// End to end through HTTP: log in as each party, submit the edit form, read the token from the
// mail queued for each party, open the link and decide.
import assert from 'node:assert/strict';
import supertest from 'supertest';
import { addAccount, createTestApp, csrfTokenOf, loginAgent, type TestApp } from '../helpers/test-app.js';

interface OutboxRow {
  kind: string;
  recipient_address: string;
  payload: string;
}

describe('web: the consent flow', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function mailTo(email: string, kind: string) {
    const rows = (await t.db.knex('outbox').where({ recipient_address: email, kind }).orderBy('id', 'desc')) as OutboxRow[];
    assert.ok(rows[0], `no ${kind} mail to ${email}`);
    return JSON.parse(rows[0].payload) as { requestId: number; token?: string };
  }

  async function setup() {
    const admin = await addAccount(t.domain);
    const tech = await addAccount(t.domain);
    const newTech = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: `site-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
    return { admin, tech, newTech, service };
  }

  it('admin names a new technical contact; both confirm through the mailed link; the table changes', async () => {
    const { admin, tech, newTech, service } = await setup();
    const a = await loginAgent(t.app, admin.handle);
    const form = await a.agent.get(`/services/${service.id}/contacts/edit`).expect(200);
    assert.match(form.text, new RegExp(`name="tech" value="${tech.handle}"`));
    const submit = await a.agent
      .post(`/services/${service.id}/contacts`)
      .type('form')
      .send({ _csrf: csrfTokenOf(form.text), admin: admin.handle, tech: newTech.handle, billing: admin.handle })
      .expect(303);
    assert.equal(submit.headers.location, '/contacts');
    const table = await a.agent.get('/contacts').expect(200);
    assert.match(table.text, /notice--success/);
    assert.match(table.text, /change pending/);

    const adminMail = await mailTo(admin.email, 'request.confirm');
    const newTechMail = await mailTo(newTech.email, 'request.confirm');
    await mailTo(tech.email, 'request.inform');
    assert.ok(adminMail.token && newTechMail.token);

    // The link's GET decides nothing.
    const page = await a.agent.get(`/requests/${adminMail.requestId}/confirm?token=${adminMail.token}`).expect(200);
    assert.match(page.text, new RegExp(`value="${adminMail.token}"`));
    // Parameters a link tracker adds do not break the link.
    const tracked = await a.agent.get(`/requests/${adminMail.requestId}/confirm?utm_source=mail&token=${adminMail.token}&utm_medium=email`).expect(200);
    assert.match(tracked.text, new RegExp(`value="${adminMail.token}"`));
    await a.agent.get(`/requests/${adminMail.requestId}/confirm?token=${adminMail.token}&token=x`).expect(400);
    const first = await a.agent
      .post(`/requests/${adminMail.requestId}/confirm`)
      .type('form')
      .send({ _csrf: csrfTokenOf(page.text), token: adminMail.token, decision: 'accept' })
      .expect(303);
    const detail = await a.agent.get(String(first.headers.location)).expect(200);
    assert.match(detail.text, new RegExp(`still waiting for ${newTech.handle}`));

    // The new contact, logged out, follows the link: login, then back to the page with the token.
    const n = supertest.agent(t.app);
    const link = `/requests/${newTechMail.requestId}/confirm?token=${newTechMail.token}`;
    const toLogin = await n.get(link).expect(303);
    const loginPage = await n.get(String(toLogin.headers.location)).expect(200);
    const loggedIn = await n
      .post('/login')
      .type('form')
      .send({ _csrf: csrfTokenOf(loginPage.text), handle: newTech.handle, password: 'correct horse battery staple', next: link })
      .expect(303);
    assert.equal(loggedIn.headers.location, link);
    const confirmPage = await n.get(link).expect(200);
    assert.match(confirmPage.text, new RegExp(`value="${newTechMail.token}"`));
    const decided = await n
      .post(`/requests/${newTechMail.requestId}/confirm`)
      .type('form')
      .send({ _csrf: csrfTokenOf(confirmPage.text), token: newTechMail.token, decision: 'accept' })
      .expect(303);
    const done = await n.get(String(decided.headers.location)).expect(200);
    assert.match(done.text, /the change has been applied/);

    const after = await t.domain.services.findById(service.id);
    assert.equal(after?.tech.handle, newTech.handle);
    const newTable = await n.get('/contacts').expect(200);
    assert.match(newTable.text, new RegExp(service.name.replace(/\./g, '\\.')));

    // A reused token gets a clear 4xx and changes nothing.
    const reuse = await n.post(`/requests/${newTechMail.requestId}/confirm`).type('form').send({ _csrf: csrfTokenOf(done.text), token: newTechMail.token, decision: 'refuse' });
    assert.equal(reuse.status, 422);
    assert.match(reuse.text, /no longer pending/);
    const state = await t.db.knex('change_requests').where({ id: newTechMail.requestId }).first('state');
    assert.equal(state.state, 'done');
  });

  it('re-renders the edit form with 422, the input kept and the message beside the field', async () => {
    const { admin, tech, service } = await setup();
    const a = await loginAgent(t.app, admin.handle);
    const cases: [Record<string, string>, RegExp][] = [
      [{ tech: 'not-a-handle' }, /two letters, 1 to 8 digits/],
      [{ tech: 'zz99999-ovh' }, /There is no account with the customer ID zz99999-ovh/],
      [{ tech: tech.handle }, /You did not change any contact/],
    ];
    for (const [change, message] of cases) {
      const before = await t.db.knex('change_requests').count({ n: '*' }).first();
      const response = await a.agent
        .post(`/services/${service.id}/contacts`)
        .type('form')
        .send({ _csrf: a.csrf, admin: admin.handle, tech: tech.handle, billing: admin.handle, ...change })
        .expect(422);
      assert.match(response.text, message);
      if (change.tech) assert.match(response.text, new RegExp(`value="${change.tech}"`));
      const afterCount = await t.db.knex('change_requests').count({ n: '*' }).first();
      assert.deepEqual(afterCount, before);
    }
  });

  it('a form opened before the technical contact changed: sending it changes only what the user changed, and a changed field is refused', async () => {
    const { admin, tech, newTech, service } = await setup();
    const replacement = await addAccount(t.domain);
    const a = await loginAgent(t.app, admin.handle);
    const form = await a.agent.get(`/services/${service.id}/contacts/edit`).expect(200);
    const shown = Object.fromEntries(
      ['admin', 'tech', 'billing'].map((role) => [`seen_${role}`, new RegExp(`name="seen_${role}" value="([^"]+)"`).exec(form.text)?.[1]]),
    );
    assert.deepEqual(shown, { seen_admin: admin.handle, seen_tech: tech.handle, seen_billing: admin.handle });
    // In another tab, the technical contact was replaced meanwhile.
    await t.db.knex('services').where({ id: service.id }).update({ tech_id: replacement.id });

    const conflict = await a.agent
      .post(`/services/${service.id}/contacts`)
      .type('form')
      .send({ _csrf: csrfTokenOf(form.text), admin: admin.handle, tech: newTech.handle, billing: admin.handle, ...shown })
      .expect(422);
    assert.ok(conflict.text.includes(`The Technical contact has changed since you opened this page: it is now ${replacement.handle}.`), conflict.text);
    assert.match(conflict.text, new RegExp(`name="tech" value="${newTech.handle}"`), 'what the user typed is kept');
    assert.match(conflict.text, new RegExp(`name="seen_tech" value="${replacement.handle}"`), 'the form now shows the contact as it is');
    assert.equal(Number((await t.db.knex('change_requests').where({ service_id: service.id }).count({ n: '*' }).first())?.n), 0);

    // Only the billing contact changed in the old form: one request, nothing about tech.
    await a.agent
      .post(`/services/${service.id}/contacts`)
      .type('form')
      .send({ _csrf: csrfTokenOf(form.text), admin: admin.handle, tech: tech.handle, billing: newTech.handle, ...shown })
      .expect(303);
    const created = (await t.db.knex('change_requests').where({ service_id: service.id }).select('roles', 'from_account_id', 'to_account_id')) as {
      roles: string;
      from_account_id: number;
      to_account_id: number;
    }[];
    assert.deepEqual(
      created.map((row) => [row.roles, row.from_account_id, row.to_account_id]),
      [['billing', admin.id, newTech.id]],
    );
  });

  it('keeps fields read-only for a technical contact and refuses a forged change to them', async () => {
    const { admin, tech, newTech, service } = await setup();
    const x = await loginAgent(t.app, tech.handle);
    const form = await x.agent.get(`/services/${service.id}/contacts/edit`).expect(200);
    assert.match(form.text, /name="admin" value="[^"]+" readonly/);
    assert.doesNotMatch(form.text, /name="tech" value="[^"]+" readonly/);
    const forged = await x.agent
      .post(`/services/${service.id}/contacts`)
      .type('form')
      .send({ _csrf: csrfTokenOf(form.text), admin: newTech.handle, tech: tech.handle, billing: admin.handle })
      .expect(422);
    assert.match(forged.text, /With your role you cannot change the Administrator contact/);
  });

  it('answers 404 to outsiders on every service and request route', async () => {
    const { admin, newTech, service } = await setup();
    const outsider = await addAccount(t.domain);
    const o = await loginAgent(t.app, outsider.handle);
    await o.agent.get(`/services/${service.id}/contacts/edit`).expect(404);
    await o.agent.post(`/services/${service.id}/contacts`).type('form').send({ _csrf: o.csrf, tech: outsider.handle }).expect(404);
    await o.agent.get(`/services/${service.id}/owner`).expect(404);
    const created = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    const id = created[0]?.id;
    await o.agent.get(`/requests/${id}`).expect(404);
    await o.agent.get(`/requests/${id}/confirm?token=abc`).expect(404);
    await o.agent.post(`/requests/${id}/confirm`).type('form').send({ _csrf: o.csrf, token: 'x'.repeat(43), decision: 'accept' }).expect(404);
    await o.agent.post(`/requests/${id}/cancel`).type('form').send({ _csrf: o.csrf }).expect(404);
    await o.agent.post(`/requests/${id}/resend`).type('form').send({ _csrf: o.csrf }).expect(404);
    const list = await o.agent.get('/requests').expect(200);
    assert.doesNotMatch(list.text, new RegExp(`data-request-id="${id}"`));
  });

  it('shows a clear message naming the handle when the link is opened by another account', async () => {
    const { admin, newTech, service } = await setup();
    await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    const mail = await mailTo(newTech.email, 'request.confirm');
    const other = await addAccount(t.domain);
    const o = await loginAgent(t.app, other.handle);
    const page = await o.agent.get(`/requests/${mail.requestId}/confirm?token=${mail.token}`).expect(403);
    assert.match(page.text, new RegExp(`This confirmation is for ${newTech.handle}`));
  });

  it('lists requests, resends a code, cancels, and shows the audit trail', async () => {
    const { admin, newTech, service } = await setup();
    const a = await loginAgent(t.app, admin.handle);
    const created = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    const id = created[0]?.id as number;
    const list = await a.agent.get('/requests').expect(200);
    assert.match(list.text, new RegExp(`data-request-id="${id}" data-state="pending"`));
    const oldMail = await mailTo(admin.email, 'request.confirm');
    await a.agent.post(`/requests/${id}/resend`).type('form').send({ _csrf: a.csrf }).expect(303);
    const newMail = await mailTo(admin.email, 'request.confirm');
    assert.notEqual(newMail.token, oldMail.token);
    const stale = await a.agent.post(`/requests/${id}/confirm`).type('form').send({ _csrf: a.csrf, token: oldMail.token, decision: 'accept' }).expect(422);
    assert.match(stale.text, /This code was replaced by a newer one/);
    // The older mail's code is no wrong guess: nothing counted against the request.
    const counted = async () => t.db.knex('rate_limits').where({ key: `token_request:${id}|${admin.id}` }).pluck('points');
    assert.deepEqual(await counted(), []);
    const wrong = await a.agent.post(`/requests/${id}/confirm`).type('form').send({ _csrf: a.csrf, token: 'x'.repeat(43), decision: 'accept' }).expect(422);
    assert.match(wrong.text, /This code is not valid for this request/);
    assert.match(wrong.text, new RegExp(`name="token" value="${'x'.repeat(43)}"`), 'the input is kept');
    assert.deepEqual((await counted()).map(Number), [1], 'a wrong code is counted');
    await a.agent.post(`/requests/${id}/cancel`).type('form').send({ _csrf: a.csrf }).expect(303);
    const detail = await a.agent.get(`/requests/${id}`).expect(200);
    assert.match(detail.text, /Cancelled/);
    assert.match(detail.text, /Code sent again/);
    const filtered = await a.agent.get('/requests?state=cancelled').expect(200);
    assert.match(filtered.text, new RegExp(`data-request-id="${id}"`));
  });

  it('limits resends: 3 per request and 10 per account in an hour, with 429 and nothing mailed beyond', async () => {
    const admin = await addAccount(t.domain);
    const newTech = await addAccount(t.domain);
    const ids: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const tech = await addAccount(t.domain);
      const service = await t.domain.services.create({ name: `resend-${i}-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
      const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
      ids.push(request?.id as number);
    }
    const a = await loginAgent(t.app, admin.handle);
    const mails = async () => Number(((await t.db.knex('outbox').where({ recipient_address: admin.email, kind: 'request.confirm' }).count({ n: '*' }).first()) as { n: number | string }).n);
    const resend = (id: number) => a.agent.post(`/requests/${id}/resend`).type('form').send({ _csrf: a.csrf });
    const [first, second, third, fourth] = ids as [number, number, number, number];

    for (let i = 0; i < 3; i += 1) await resend(first).expect(303);
    const before = await mails();
    const perRequest = await resend(first).expect(429);
    assert.ok(Number(perRequest.headers['retry-after']) > 0, 'Retry-After on the per-request limit');
    assert.equal(await mails(), before, 'no mail beyond the per-request limit');

    // That refused resend still counted against the account: 4 so far, 6 more are allowed.
    for (const id of [second, second, second, third, third, third]) await resend(id).expect(303);
    const beforeAccount = await mails();
    const perAccount = await resend(fourth).expect(429);
    assert.ok(Number(perAccount.headers['retry-after']) > 0, 'Retry-After on the per-account limit');
    assert.match(perAccount.text, /Too many|too many/);
    assert.equal(await mails(), beforeAccount, 'no mail beyond the per-account limit');
  });

  it('changes the e-mail with the current password only', async () => {
    const account = await addAccount(t.domain);
    const a = await loginAgent(t.app, account.handle);
    const wrong = await a.agent.post('/profile/email').type('form').send({ _csrf: a.csrf, email: 'new@example.test', password: 'wrong password here' }).expect(422);
    assert.match(wrong.text, /The password is not correct/);
    assert.match(wrong.text, /value="new@example.test"/);
    await a.agent.post('/profile/email').type('form').send({ _csrf: a.csrf, email: 'new@example.test', password: 'correct horse battery staple' }).expect(303);
    const profile = await a.agent.get('/profile').expect(200);
    assert.match(profile.text, /new@example.test/);
  });

  it('lets the administrator edit the owner details of a domain but not the name', async () => {
    const { admin, tech, service } = await setup();
    const a = await loginAgent(t.app, admin.handle);
    const page = await a.agent.get(`/services/${service.id}/owner`).expect(200);
    assert.match(page.text, /id="field-name"[^>]*readonly/);
    const bad = await a.agent.post(`/services/${service.id}/owner`).type('form').send({ _csrf: a.csrf, street: 'Rua A 1', postalCode: '1000-001', city: 'Lisboa', country: 'Portugal', phone: '12', email: 'x' }).expect(422);
    assert.match(bad.text, /two-letter country code/);
    await a.agent.post(`/services/${service.id}/owner`).type('form').send({ _csrf: a.csrf, street: 'Rua A 1', postalCode: '1000-001', city: 'Lisboa', country: 'pt', phone: '+351 212 345 678', email: 'owner@example.test' }).expect(303);
    await a.agent.post(`/services/${service.id}/owner`).type('form').send({ _csrf: a.csrf, name: 'Someone else', street: 'x' }).expect(400);
    // Long values and < > are answered at their fields, with everything typed kept.
    const typed = { street: 'Rua A <Bloco 2>', postalCode: '1000-001', city: 'L'.repeat(150), country: 'United Kingdom', phone: '+351 21 234 5678 (reception, ext. 1234)', email: 'owner@example.test' };
    const long = await a.agent.post(`/services/${service.id}/owner`).type('form').send({ _csrf: a.csrf, ...typed }).expect(422);
    assert.match(long.text, /The street address cannot contain &lt; or &gt;, nor control characters\./);
    assert.match(long.text, /The city must be at most 100 characters\./);
    assert.match(long.text, /two-letter country code/);
    assert.match(long.text, /international format/);
    for (const value of Object.values(typed)) assert.ok(long.text.includes(`value="${value.replace(/</g, '&lt;').replace(/>/g, '&gt;')}"`), value);
    const x = await loginAgent(t.app, tech.handle);
    await x.agent.get(`/services/${service.id}/owner`).expect(403);
  });
  it('a request past its expiry, not yet swept: its confirmation page says so and offers no decision', async () => {
    const { admin, newTech, service } = await setup();
    const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    assert.ok(request);
    const { token } = await mailTo(newTech.email, 'request.confirm');
    await t.db.knex('change_requests').where({ id: request.id }).update({ expires_at: Date.now() - 1000 });

    const n = await loginAgent(t.app, newTech.handle);
    const page = await n.agent.get(`/requests/${request.id}/confirm?token=${token}`).expect(200);
    assert.match(page.text, /This request has expired without both decisions; the code no longer works\./);
    assert.doesNotMatch(page.text, /already given your decision/);
    assert.doesNotMatch(page.text, /name="decision"/);
  });
  it('a party opening the other party\'s link (a shared mailbox) is told whose it is, GET and POST, and nothing is decided', async () => {
    const { admin, newTech, service } = await setup();
    const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    assert.ok(request);
    const { token } = await mailTo(newTech.email, 'request.confirm');
    const a = await loginAgent(t.app, admin.handle);
    const expected = `This confirmation is for ${newTech.handle}, but you are logged in as ${admin.handle}. Log out and log in as ${newTech.handle} to decide.`;

    const page = await a.agent.get(`/requests/${request.id}/confirm?token=${token}`).expect(403);
    assert.ok(page.text.includes(expected), 'GET names the owner');
    const posted = await a.agent.post(`/requests/${request.id}/confirm`).type('form').send({ _csrf: a.csrf, token, decision: 'accept' }).expect(403);
    assert.ok(posted.text.includes(expected), 'POST names the owner');
    const parties = (await t.db.knex('request_parties').where({ request_id: request.id }).pluck('decision')) as (string | null)[];
    assert.deepEqual(parties, [null, null]);
  });

  it('"Switch account" on that page logs out and, after logging in as the right account, leads back to the link', async () => {
    const { admin, newTech, service } = await setup();
    const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, { ip: null });
    assert.ok(request);
    const { token } = await mailTo(newTech.email, 'request.confirm');
    const link = `/requests/${request.id}/confirm?token=${token}`;
    // The switch form's (the header's language switcher, first in the page, has a `next` too).
    const nextField = (html: string) => [...html.matchAll(/name="next" value="([^"]*)"/g)].at(-1)?.[1]?.replaceAll('&amp;', '&');

    // From the GET of the link, and from a POST of its form: the switch form carries the link.
    const a = await loginAgent(t.app, admin.handle);
    const posted = await a.agent.post(`/requests/${request.id}/confirm`).type('form').send({ _csrf: a.csrf, token, decision: 'accept' }).expect(403);
    assert.equal(nextField(posted.text), link);
    const page = await a.agent.get(`${link}&utm_source=mail`).expect(403);
    assert.equal(nextField(page.text), link, 'the link as mailed, without what a tracker added');
    const loggedOut = await a.agent.post('/logout').type('form').send({ _csrf: csrfTokenOf(page.text), next: nextField(page.text) }).expect(303);
    assert.equal(loggedOut.headers.location, `/login?next=${encodeURIComponent(link)}`);
    await a.agent.get('/contacts').expect(303);

    const login = await a.agent.get(loggedOut.headers.location as string).expect(200);
    const back = await a.agent.post('/login').type('form').send({ _csrf: csrfTokenOf(login.text), handle: newTech.handle, password: 'correct horse battery staple', next: link }).expect(303);
    assert.equal(back.headers.location, link);
    const confirm = await a.agent.get(link).expect(200);
    assert.ok(confirm.text.includes(`value="${token}"`), 'the code is filled in');
  });

  it('a logout logs out whatever its fields; it leads to the plain login page when its way back is missing or not a path of this site', async () => {
    const { admin } = await setup();
    for (const next of [undefined, '', '//evil.example/x', 'https://evil.example/', '/\\evil.example', `/${'x'.repeat(3000)}`, ['/contacts', '/profile']]) {
      const a = await loginAgent(t.app, admin.handle);
      const response = await a.agent.post('/logout').type('form').send(next === undefined ? { _csrf: a.csrf } : { _csrf: a.csrf, next, extra: 'field' }).expect(303);
      assert.equal(response.headers.location, '/login', String(next));
      await a.agent.get('/contacts').expect(303);
    }
  });
});

describe('web: REQUEST_TTL', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { REQUEST_TTL: '2 days' } });
  });
  after(() => t.close());

  it('a request submitted through the form expires after the configured time to live, and its mails say when', async () => {
    const admin = await addAccount(t.domain);
    const newTech = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: `ttl-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: admin.handle, billing: admin.handle });
    const a = await loginAgent(t.app, admin.handle);
    await a.agent
      .post(`/services/${service.id}/contacts`)
      .type('form')
      .send({ _csrf: a.csrf, admin: admin.handle, tech: newTech.handle, billing: admin.handle })
      .expect(303);
    const row = (await t.db.knex('change_requests').where({ service_id: service.id }).first('id', 'created_at', 'expires_at')) as { id: number; created_at: number; expires_at: number };
    assert.equal(Number(row.expires_at) - Number(row.created_at), 2 * 24 * 3600_000);
    const mail = (await t.db.knex('outbox').where({ recipient_address: newTech.email, kind: 'request.confirm' }).first('payload')) as { payload: string };
    assert.equal((JSON.parse(mail.payload) as { expiresAt: number }).expiresAt, Number(row.expires_at));
  });
});
