import assert from 'node:assert/strict';
import supertest from 'supertest';
import { createI18n } from '../../src/i18n/index.js';
import { createMailRenderer } from '../../src/mail/render.js';
import { addAccount, createTestApp, csrfTokenOf, loginAgent, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

describe('web: security headers and rate limits', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: '1' } });
  });
  after(() => t.close());

  it('sends a strict CSP and the other protective headers', async () => {
    const response = await supertest(t.app).get('/login').expect(200);
    const csp = String(response.headers['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) {
      assert.ok(csp.includes(directive), `CSP lacks ${directive}: ${csp}`);
    }
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(response.headers['referrer-policy'], 'no-referrer');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(response.headers['x-powered-by'], undefined);
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('never caches logged-in pages', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    for (const path of ['/contacts', '/requests', '/profile']) {
      const response = await agent.get(path).expect(200);
      assert.equal(response.headers['cache-control'], 'no-store', path);
    }
  });

  it('has no inline script, style or event attribute in the pages', async () => {
    const account = await addAccount(t.domain);
    await t.domain.services.create({ name: 'inline-check.pt', type: 'domain', admin: account.handle, tech: account.handle, billing: account.handle });
    const { agent } = await loginAgent(t.app, account.handle);
    for (const path of ['/login', '/contacts', '/requests', '/profile']) {
      const html = (await agent.get(path)).text;
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path} has an inline script`);
      assert.doesNotMatch(html, /<style|\sstyle="/i, `${path} has inline style`);
      assert.doesNotMatch(html, /\son[a-z]+="/i, `${path} has an event attribute`);
    }
  });

  it('builds mail links from PUBLIC_URL, never from the Host header', async () => {
    const admin = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: 'host-header.pt', type: 'domain', admin: admin.handle, tech: admin.handle, billing: admin.handle });
    const { agent, csrf } = await loginAgent(t.app, admin.handle);
    await agent
      .post(`/services/${service.id}/contacts`)
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .type('form')
      .send({ _csrf: csrf, admin: admin.handle, tech: other.handle, billing: admin.handle })
      .expect(303);
    const rows = await t.db.knex('outbox').where({ kind: 'request.confirm', recipient_address: other.email });
    assert.equal(rows.length, 1);
    const mail = createMailRenderer({ i18n: createI18n(), publicUrl: t.config.publicUrl, defaultTimeZone: t.config.defaultTimeZone }).render(rows[0]);
    assert.ok(!mail.text.includes('evil.example') && !mail.html.includes('evil.example'));
    assert.match(mail.text, /http:\/\/contacts\.test\/requests\/\d+\/confirm\?token=[A-Za-z0-9_-]{43}/);
  });

  it('limits failed logins per handle and IP with 429 and Retry-After, without blocking a correct login elsewhere', async () => {
    const account = await addAccount(t.domain);
    const attacker = supertest.agent(t.app);
    const page = await attacker.get('/login').set('X-Forwarded-For', '203.0.113.7').expect(200);
    const csrf = csrfTokenOf(page.text);
    for (let i = 0; i < 10; i++) {
      await attacker.post('/login').set('X-Forwarded-For', '203.0.113.7').type('form').send({ _csrf: csrf, handle: account.handle, password: `wrong password ${i}` }).expect(401);
    }
    const blocked = await attacker.post('/login').set('X-Forwarded-For', '203.0.113.7').type('form').send({ _csrf: csrf, handle: account.handle, password: TEST_PASSWORD }).expect(429);
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    assert.match(blocked.text, /Too many attempts/);
    assert.match(blocked.text, new RegExp(`name="handle"[^>]*value="${account.handle}"|value="${account.handle}"[^>]*name="handle"`), 'the handle is kept');
    const owner = supertest.agent(t.app);
    const ownerPage = await owner.get('/login').set('X-Forwarded-For', '198.51.100.20').expect(200);
    await owner.post('/login').set('X-Forwarded-For', '198.51.100.20').type('form').send({ _csrf: csrfTokenOf(ownerPage.text), handle: account.handle, password: TEST_PASSWORD }).expect(303);
  });

  it('limits wrong tokens on a request', async () => {
    const admin = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: 'token-limit.pt', type: 'domain', admin: admin.handle, tech: admin.handle, billing: admin.handle });
    const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: other.handle }, { ip: null });
    const { agent, csrf } = await loginAgent(t.app, admin.handle);
    let last = 0;
    for (let i = 0; i < 12; i++) {
      const response = await agent.post(`/requests/${request?.id}/confirm`).type('form').send({ _csrf: csrf, token: 'A'.repeat(42) + String(i % 10), decision: 'accept' });
      last = response.status;
      if (last === 429) break;
      assert.equal(last, 422);
    }
    assert.equal(last, 429);
    const state = await t.db.knex('change_requests').where({ id: request?.id }).first('state');
    assert.equal(state.state, 'pending');
    // The other party's own wrong guesses are its own: its code still works.
    const row = (await t.db.knex('outbox').where({ kind: 'request.confirm', recipient_address: other.email }).first('payload')) as { payload: string };
    const { token } = JSON.parse(row.payload) as { token: string };
    const o = await loginAgent(t.app, other.handle);
    await o.agent.post(`/requests/${request?.id}/confirm`).type('form').send({ _csrf: o.csrf, token, decision: 'accept' }).expect(303);
    // A second click on a used code is no guess: it is not counted.
    for (let i = 0; i < 12; i++) {
      await o.agent.post(`/requests/${request?.id}/confirm`).type('form').send({ _csrf: o.csrf, token, decision: 'accept' }).expect(422);
    }
  });
});
