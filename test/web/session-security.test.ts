import assert from 'node:assert/strict';
import supertest from 'supertest';
import { addAccount, createTestApp, csrfTokenOf, loginAgent, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

describe('web: sessions, passwords and logs', () => {
  let t: TestApp;
  const logLines: string[] = [];
  before(async () => {
    // These tests edit stored sessions behind the app's back: no memory cache in front of them.
    t = await createTestApp({ logLines, sessionCache: { readMs: 0, touchIntervalMs: 0 } });
  });
  after(() => t.close());

  it('ends a session idle for longer than the idle timeout (checked in the store, server-side)', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    await agent.get('/contacts').expect(200);
    await t.db.knex('sessions').update({ expired: new Date(Date.now() - 1000) });
    await agent.get('/contacts').expect(303);
  });

  it('ends a session past its absolute lifetime even when it is active', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    const rows = (await t.db.knex('sessions').select('sid', 'sess')) as { sid: string; sess: string | Record<string, unknown> }[];
    for (const row of rows) {
      const sess = typeof row.sess === 'string' ? (JSON.parse(row.sess) as Record<string, unknown>) : row.sess;
      if (sess.accountId !== account.id) continue;
      sess.loggedInAt = Date.now() - 13 * 3600_000;
      await t.db.knex('sessions').where({ sid: row.sid }).update({ sess: JSON.stringify(sess) });
    }
    await agent.get('/contacts').expect(303);
  });

  it('uses a __Host- cookie with Secure behind HTTPS in production', async () => {
    const prod = await createTestApp({ env: { NODE_ENV: 'production', PUBLIC_URL: 'https://contacts.example', TRUST_PROXY: '1' } });
    try {
      const response = await supertest(prod.app).get('/login').set('X-Forwarded-Proto', 'https').expect(200);
      const cookie = String(response.headers['set-cookie']);
      assert.match(cookie, /^__Host-sid=/);
      assert.match(cookie, /Secure/);
      assert.match(cookie, /HttpOnly/);
      assert.match(String(response.headers['strict-transport-security']), /max-age=\d+/);
    } finally {
      await prod.close();
    }
  });

  it('hashes passwords with argon2id at 19 MiB and 2 iterations or more', async () => {
    const account = await addAccount(t.domain);
    const row = await t.db.knex('accounts').where({ id: account.id }).first('password_hash');
    assert.match(row.password_hash, /^\$argon2id\$v=19\$/);
    const params = Object.fromEntries((String(row.password_hash).split('$')[3] ?? '').split(',').map((pair) => pair.split('=')));
    assert.ok(Number(params.m) >= 19456, row.password_hash);
    assert.ok(Number(params.t) >= 2, row.password_hash);
  });

  it('refuses short and common passwords and accepts a long one without composition rules', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    const short = await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: TEST_PASSWORD, newPassword: 'short' }).expect(422);
    assert.match(short.text, /at least 12 characters/);
    const common = await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: TEST_PASSWORD, newPassword: 'qwerty123456' }).expect(422);
    assert.match(common.text, /most common/);
    const long = 'a'.repeat(64) + ' only lower case words are fine ' + 'b'.repeat(30);
    await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: TEST_PASSWORD, newPassword: long }).expect(303);
    const fresh = supertest.agent(t.app);
    const page = await fresh.get('/login');
    await fresh.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle: account.handle, password: long }).expect(303);
  });

  it('limits password checks of a logged-in account: 10 in 15 minutes, then 429 at the field, nothing changed', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    // A right password takes its check back, also when something else in the form is refused.
    await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: `right-${account.email}`, password: TEST_PASSWORD }).expect(303);
    for (let i = 0; i < 12; i++) {
      await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: TEST_PASSWORD, newPassword: 'short' }).expect(422);
      await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: 'not an address', password: 'whatever' }).expect(422);
    }
    for (let i = 0; i < 10; i++) {
      const form = i % 2 === 0 ? '/profile/email' : '/profile/password';
      const body = i % 2 === 0 ? { email: 'thief@example.test', password: `guess ${i}` } : { currentPassword: `guess ${i}`, newPassword: 'a long enough new password' };
      await agent.post(form).type('form').send({ _csrf: csrf, ...body }).expect(422);
    }
    const blocked = await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: 'thief@example.test', password: TEST_PASSWORD }).expect(429);
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    assert.match(blocked.text, /Too many attempts/);
    assert.match(blocked.text, /href="#field-password"/, 'the wait is shown at the password field');
    assert.match(blocked.text, /value="thief@example.test"/, 'the input is kept');
    await agent.post('/profile/password').type('form').send({ _csrf: csrf, currentPassword: TEST_PASSWORD, newPassword: 'a long enough new password' }).expect(429);
    const row = (await t.db.knex('accounts').where({ id: account.id }).first('email')) as { email: string };
    assert.equal(row.email, `right-${account.email}`);
    // Another account is not affected.
    const other = await addAccount(t.domain);
    const o = await loginAgent(t.app, other.handle);
    await o.agent.post('/profile/email').type('form').send({ _csrf: o.csrf, email: `new-${other.email}`, password: TEST_PASSWORD }).expect(303);
  });

  it('ends the other sessions of the account on a password change, and keeps this one and other accounts\' sessions', async () => {
    const account = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const here = await loginAgent(t.app, account.handle);
    const elsewhere = await loginAgent(t.app, account.handle);
    const someoneElse = await loginAgent(t.app, other.handle);
    const changed = await here.agent
      .post('/profile/password')
      .type('form')
      .send({ _csrf: here.csrf, currentPassword: TEST_PASSWORD, newPassword: 'a new and rather long passphrase' })
      .expect(303);
    assert.equal(changed.headers.location, '/profile');
    assert.match((await here.agent.get('/profile').expect(200)).text, /logged out/);
    await elsewhere.agent.get('/contacts').expect(303).expect('location', '/login?next=%2Fcontacts');
    await someoneElse.agent.get('/contacts').expect(200);
  });

  it('ends a stolen session on a password change even with the memory caches on and its row written back', async () => {
    const cached = await createTestApp({ db: t.db });
    const account = await addAccount(cached.domain);
    const owner = await loginAgent(cached.app, account.handle);
    const thief = await loginAgent(cached.app, account.handle);
    // The thief keeps its session busy (each post saves it) …
    await thief.agent.post('/language').type('form').send({ _csrf: thief.csrf, language: 'en', next: '/contacts' }).expect(303);
    const stolen = (await t.db.knex('sessions').select('sid', 'sess')) as { sid: string; sess: unknown }[];
    await owner.agent
      .post('/profile/password')
      .type('form')
      .send({ _csrf: owner.csrf, currentPassword: TEST_PASSWORD, newPassword: 'a new and rather long passphrase' })
      .expect(303);
    // … and even if its row came back (a save racing the change, another process), it is over.
    const present = new Set(((await t.db.knex('sessions').select('sid')) as { sid: string }[]).map((row) => row.sid));
    for (const row of stolen) {
      if (!present.has(row.sid)) await t.db.knex('sessions').insert({ ...row, sess: typeof row.sess === 'string' ? row.sess : JSON.stringify(row.sess), expired: new Date(Date.now() + 3600_000) });
    }
    await thief.agent.get('/contacts').expect(303).expect('location', '/login?next=%2Fcontacts');
    await owner.agent.get('/contacts').expect(200);
  });

  it('keeps tokens, passwords and session ids out of the logs of a full flow', async () => {
    const admin = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: 'logs.pt', type: 'domain', admin: admin.handle, tech: admin.handle, billing: admin.handle });
    logLines.length = 0;
    const a = await loginAgent(t.app, admin.handle);
    await a.agent.post(`/services/${service.id}/contacts`).type('form').send({ _csrf: a.csrf, admin: admin.handle, tech: other.handle, billing: admin.handle }).expect(303);
    const rows = (await t.db.knex('outbox').where({ kind: 'request.confirm' }).orderBy('id', 'desc').limit(2)) as { payload: string }[];
    const tokens = rows.map((row) => (JSON.parse(row.payload) as { token: string }).token);
    for (const token of tokens) {
      const payload = JSON.parse(rows[tokens.indexOf(token)]?.payload ?? '{}') as { requestId: number };
      await a.agent.get(`/requests/${payload.requestId}/confirm?token=${token}`);
      await a.agent.post(`/requests/${payload.requestId}/confirm`).type('form').send({ _csrf: a.csrf, token, decision: 'accept' });
    }
    // A logged-out reader of the mail is sent to the login form with the link as its way back,
    // and may switch language there: the token rides, encoded, in those URLs.
    const stranger = supertest.agent(t.app);
    const confirmPath = `/requests/${(JSON.parse(rows[0]?.payload ?? '{}') as { requestId: number }).requestId}/confirm?token=${tokens[0]}`;
    const toLogin = await stranger.get(confirmPath).expect(303);
    const loginPage = await stranger.get(String(toLogin.headers.location)).expect(200);
    const switched = await stranger.post('/language').type('form').send({ _csrf: csrfTokenOf(loginPage.text), language: 'pt-PT', next: String(toLogin.headers.location) }).expect(303);
    await stranger.get(String(switched.headers.location)).expect(200);
    assert.ok(logLines.some((line) => line.includes('next=%2Frequests%2F')), 'the login form with its way back was logged');
    const sessionIds = ((await t.db.knex('sessions').select('sid')) as { sid: string }[]).map((row) => row.sid);
    const logs = logLines.join('\n');
    assert.ok(logLines.length > 5, 'the flow was logged');
    for (const secret of [...tokens, TEST_PASSWORD, a.csrf, ...sessionIds]) {
      assert.ok(!logs.includes(secret), `a secret appears in the logs: ${secret.slice(0, 6)}…`);
    }
  });
});
