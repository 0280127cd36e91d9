// Device cookies: a browser that logged in to a handle keeps trying on its own counter, so that
// someone failing on purpose from many addresses cannot lock the owner out of the browsers they use.
import assert from 'node:assert/strict';
import supertest from 'supertest';
import { DEVICE_COOKIE_MAX_AGE_MS } from '../../src/web/middleware/device-cookie.js';
import { createRateLimits } from '../../src/web/middleware/rate-limits.js';
import { addAccount, createTestApp, csrfTokenOf, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

type Agent = ReturnType<typeof supertest.agent>;

/** GET /login then POST it, expecting `status`. */
async function tryLogin(agent: Agent, status: number, handle: string, password = TEST_PASSWORD) {
  const page = await agent.get('/login').expect(200);
  return agent.post('/login').type('form').send({ _csrf: csrfTokenOf(page.text), handle, password }).expect(status);
}

async function logout(agent: Agent): Promise<void> {
  await agent.post('/logout').type('form').send({ _csrf: csrfTokenOf((await agent.get('/contacts').expect(200)).text) }).expect(303);
}

function deviceCookieOf(response: { headers: Record<string, unknown> }): string | undefined {
  const cookies = (response.headers['set-cookie'] ?? []) as string[];
  return cookies.find((cookie) => cookie.startsWith('device='));
}

describe('web: device cookies keep the owner able to log in', () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  /** What someone who fails on purpose from ten addresses achieves: the handle refused to everyone else. */
  async function lockOut(handle: string): Promise<void> {
    const limits = createRateLimits(t.db.knex);
    for (let client = 1; client <= 10; client++) for (let i = 0; i < 10; i++) await limits.beginLogin(handle, `192.0.2.${client}`);
  }

  it('a login sets a signed, HttpOnly cookie for the handle, sent to /login only, for 180 days', async () => {
    const { handle } = await addAccount(t.domain);
    const response = await tryLogin(supertest.agent(t.app), 303, handle.toUpperCase());
    const cookie = deviceCookieOf(response);
    assert.ok(cookie, 'a device cookie is set');
    assert.match(cookie, new RegExp(`^device=s%3A[A-Za-z0-9_-]{22}%3A${handle}\\.`), 'the handle as typed, lower-cased, signed');
    assert.match(cookie, /; Path=\/login(;|$)/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, new RegExp(`; Max-Age=${DEVICE_COOKIE_MAX_AGE_MS / 1000}(;|$)`));
    // A cookie that is not one (bad encoding, no signature, wrong shape) is only ignored.
    for (const garbage of ['device=%E0%A4%A', 'device=s%3Aabc', `device=s%3A${'x'.repeat(22)}%3A${handle}`, 'device=']) {
      const browser = supertest.agent(t.app);
      browser.jar.setCookie(`${garbage}; Path=/login`, '127.0.0.1', '/');
      assert.ok(deviceCookieOf(await tryLogin(browser, 303, handle)));
    }
    // A failed login sets none.
    assert.equal(deviceCookieOf(await tryLogin(supertest.agent(t.app), 401, handle, 'not the password')), undefined);
  });

  it('a handle locked out everywhere still lets in the browser that logged in to it before, and only it', async () => {
    const { handle } = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const owners = supertest.agent(t.app);
    await tryLogin(owners, 303, handle);
    await logout(owners);
    const elsewhere = supertest.agent(t.app);
    await tryLogin(elsewhere, 303, other.handle);
    await logout(elsewhere);
    await lockOut(handle);

    // Without the cookie, with a forged one, or with one for another handle: refused, form kept.
    const fresh = await tryLogin(supertest.agent(t.app), 429, handle);
    assert.match(fresh.text, /Too many attempts/);
    assert.match(fresh.text, new RegExp(`value="${handle}"`));
    const genuine = (await tryLogin(supertest.agent(t.app), 303, other.handle)).headers['set-cookie'] as unknown as string[];
    const forged = (genuine.find((cookie) => cookie.startsWith('device=')) as string).split(';')[0]!.replace(other.handle, handle);
    const forger = supertest.agent(t.app);
    forger.jar.setCookie(`${forged}; Path=/login`, '127.0.0.1', '/');
    await tryLogin(forger, 429, handle);
    await tryLogin(elsewhere, 429, handle);

    // The owner's browser gets in, and is on its contacts page.
    const login = await tryLogin(owners, 303, handle);
    assert.equal(login.headers.location, '/contacts');
    await owners.get('/contacts').expect(200);
    assert.ok(deviceCookieOf(login), 'the cookie is renewed');
  });

  it('a trusted browser has ten tries per 15 minutes of its own, and a correct password starts them again', async () => {
    const { handle } = await addAccount(t.domain);
    const owners = supertest.agent(t.app);
    const first = await tryLogin(owners, 303, handle);
    const id = /^device=s%3A([A-Za-z0-9_-]{22})/.exec(deviceCookieOf(first) ?? '')?.[1];
    await logout(owners);
    for (let i = 0; i < 9; i++) await tryLogin(owners, 401, handle, 'not the password');
    const again = await tryLogin(owners, 303, handle);
    assert.equal(/^device=s%3A([A-Za-z0-9_-]{22})/.exec(deviceCookieOf(again) ?? '')?.[1], id, 'the same device, renewed');
    await logout(owners);
    for (let i = 0; i < 10; i++) await tryLogin(owners, 401, handle, 'not the password');
    const refused = await tryLogin(owners, 429, handle);
    assert.match(refused.text, /Too many attempts/);
    // None of it counted against the handle: another browser is not refused.
    const counted = await t.db.knex('rate_limits').where({ key: `login_handle:${handle}` }).first();
    assert.equal(Number(counted?.points ?? 0), 0);
  });
});
