import assert from 'node:assert/strict';
import supertest from 'supertest';
import { addAccount, createTestApp, csrfTokenOf, loginAgent, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

describe('web: login and logout', () => {
  let t: TestApp;
  let handle: string;

  before(async () => {
    t = await createTestApp();
    handle = (await addAccount(t.domain)).handle;
  });
  after(() => t.close());

  it('sends logged-out users to the login page and back to where they were going', async () => {
    const agent = supertest.agent(t.app);
    const first = await agent.get('/contacts?q=abc').expect(303);
    assert.equal(first.headers.location, '/login?next=%2Fcontacts%3Fq%3Dabc');
    const page = await agent.get(first.headers.location).expect(200);
    assert.match(page.text, /name="next" value="\/contacts\?q=abc"/);
    const login = await agent.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle: handle.toUpperCase(), password: TEST_PASSWORD, next: '/contacts?q=abc' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, '/contacts?q=abc');
    await agent.get('/contacts?q=abc').expect(200);
  });

  it('refuses a wrong password and an unknown handle with the same message and records both', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login').expect(200);
    const csrf = csrfTokenOf(page.text);
    const wrong = await agent.post('/login').type('form').send({ _csrf: csrf, handle, password: 'not the password at all' }).expect(401);
    const unknown = await agent.post('/login').type('form').send({ _csrf: csrf, handle: 'zz999-ovh', password: TEST_PASSWORD }).expect(401);
    assert.match(wrong.text, /The customer ID or the password is not correct/);
    assert.match(unknown.text, /The customer ID or the password is not correct/);
    assert.match(wrong.text, new RegExp(`value="${handle}"`), 'the handle is kept in the form');
    const failures = await t.db.knex('audit_log').where({ action: 'login.failure' }).count({ n: '*' }).first();
    assert.equal(Number(failures?.n), 2);
    await agent.get('/contacts').expect(303);
  });

  it('after a failed login the language switcher leads back to the login form with its way back', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login?next=%2Fcontacts%3Fq%3Dabc').expect(200);
    const csrf = csrfTokenOf(page.text);
    const switcherNext = (html: string) => /action="\/language"[\s\S]*?name="next" value="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    assert.equal(switcherNext(page.text), '/login?next=%2Fcontacts%3Fq%3Dabc');
    const failed = await agent.post('/login').type('form').send({ _csrf: csrf, handle, password: 'not the password at all', next: '/contacts?q=abc' }).expect(401);
    const next = switcherNext(failed.text);
    assert.equal(next, '/login?next=%2Fcontacts%3Fq%3Dabc');
    const switched = await agent.post('/language').type('form').send({ _csrf: csrf, language: 'pt-PT', next }).expect(303);
    const again = await agent.get(String(switched.headers.location)).expect(200);
    assert.match(again.text, /name="next" value="\/contacts\?q=abc"/);
    // Without a way back, the bare form.
    const plain = await agent.post('/login').type('form').send({ _csrf: csrf, handle, password: 'not the password at all' }).expect(401);
    assert.equal(switcherNext(plain.text), '/login');
  });

  it('refuses a POST without a CSRF token with 403', async () => {
    const agent = supertest.agent(t.app);
    await agent.get('/login').expect(200);
    const response = await agent.post('/login').type('form').send({ handle, password: TEST_PASSWORD }).expect(403);
    assert.match(response.text, /This form has expired or was not sent from this site/);
  });

  it('refuses a forged CSRF token with 403', async () => {
    const agent = supertest.agent(t.app);
    await agent.get('/login').expect(200);
    await agent.post('/login').type('form').send({ _csrf: 'forged', handle, password: TEST_PASSWORD }).expect(403);
  });

  it('ignores a next that is not a local path', async () => {
    for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/ok\r\nSet-Cookie: x']) {
      const agent = supertest.agent(t.app);
      const page = await agent.get('/login').expect(200);
      const response = await agent.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle, password: TEST_PASSWORD, next }).expect(303);
      assert.equal(response.headers.location, '/contacts', `next=${JSON.stringify(next)}`);
    }
  });

  it('issues a new session id at login and destroys the session at logout', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login').expect(200);
    const before = String(page.headers['set-cookie']);
    const login = await agent.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle, password: TEST_PASSWORD }).expect(303);
    const after = String(login.headers['set-cookie']);
    assert.notEqual(before.split(';')[0], after.split(';')[0]);
    assert.match(after, /HttpOnly/);
    assert.match(after, /SameSite=Lax/);
    const contacts = await agent.get('/contacts').expect(200);
    await agent.post('/logout').type('form').send({ _csrf: csrfTokenOf(contacts.text) }).expect(303);
    await agent.get('/contacts').expect(303);
    // The old cookie is dead server-side too.
    await supertest(t.app).get('/contacts').set('Cookie', after.split(';')[0] ?? '').expect(303);
  });

  it('answers a repeated field with 400, not 500', async () => {
    const { agent, csrf } = await loginAgent(t.app, handle);
    await agent.post('/language').type('form').send(`_csrf=${encodeURIComponent(csrf)}&language=en&language=pt-PT`).expect(400);
  });

  it('answers an oversized body with 413', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/login').expect(200);
    await agent.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle, password: 'x'.repeat(40_000) }).expect(413);
  });

  it('serves health and readiness', async () => {
    await supertest(t.app).get('/healthz').expect(200, 'ok');
    await supertest(t.app).get('/readyz').expect(200, 'ready');
  });
});
