// Device cookies: the browser that last logged in to a handle keeps trying on its own counter, so
// that someone failing on purpose from many addresses cannot lock the owner out of it.
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

function deviceCookieOf(response: { headers: Record<string, unknown> }, name = 'device'): string | undefined {
  const cookies = (response.headers['set-cookie'] ?? []) as string[];
  return cookies.find((cookie) => cookie.startsWith(`${name}=`));
}

/** The device id of a Set-Cookie: `device=s:<id>:<password changed at>:<handle hash>.<signature>`. */
function deviceIdOf(cookie: string | undefined): string | undefined {
  return /^(?:__Host-)?device=s%3A([A-Za-z0-9_-]{22})%3A/.exec(cookie ?? '')?.[1];
}

describe('web: device cookies keep the owner able to log in', () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(() => t.close());

  const points = async (key: string) => Number((await t.db.knex('rate_limits').where({ key }).first('points'))?.points ?? -1);

  /** What someone who fails on purpose from ten addresses achieves: the handle refused to everyone else. */
  async function lockOut(handle: string): Promise<void> {
    const limits = createRateLimits(t.db.knex);
    for (let client = 1; client <= 10; client++) for (let i = 0; i < 10; i++) await limits.beginLogin(handle, `192.0.2.${client}`);
  }

  it('a login sets a signed, HttpOnly cookie for 180 days that does not show the handle, with a new id every time', async () => {
    const { handle } = await addAccount(t.domain);
    const browser = supertest.agent(t.app);
    const cookie = deviceCookieOf(await tryLogin(browser, 303, handle.toUpperCase()));
    assert.ok(cookie, 'a device cookie is set');
    assert.match(cookie, /^device=s%3A[A-Za-z0-9_-]{22}%3A0%3A[A-Za-z0-9_-]{22}\.[^;]+; /);
    assert.ok(!cookie.toLowerCase().includes(handle), 'the handle is not readable in it');
    assert.match(cookie, /; Path=\/(;|$)/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, new RegExp(`; Max-Age=${DEVICE_COOKIE_MAX_AGE_MS / 1000}(;|$)`));
    await logout(browser);
    const again = deviceCookieOf(await tryLogin(browser, 303, handle));
    assert.ok(deviceIdOf(again) && deviceIdOf(again) !== deviceIdOf(cookie), 'a new id at each login');
    // A failed login sets none.
    assert.equal(deviceCookieOf(await tryLogin(supertest.agent(t.app), 401, handle, 'not the password')), undefined);
  });

  it('a cookie that is not a genuine one (bad encoding, no signature, wrong shape) is ignored: the attempt counts as anyone’s', async () => {
    const { handle } = await addAccount(t.domain);
    const unsigned = `device=s%3A${'x'.repeat(22)}%3A0%3A${'y'.repeat(22)}`;
    for (const garbage of ['device=%E0%A4%A', 'device=s%3Aabc', unsigned, 'device=', 'device=j%3A%7B%7D']) {
      await t.db.knex('rate_limits').delete();
      const browser = supertest.agent(t.app);
      browser.jar.setCookie(`${garbage}; Path=/`, '127.0.0.1', '/');
      const login = await tryLogin(browser, 303, handle);
      assert.equal(await points(`login_device:${'x'.repeat(22)}`), -1, garbage);
      // Counted on the handle and the client, then taken back by the success.
      assert.equal(await points(`login_handle:${handle}`), 0, garbage);
      assert.notEqual(deviceIdOf(deviceCookieOf(login)), 'x'.repeat(22));
    }
  });

  it('a handle locked out everywhere still lets in the browser that last logged in to it, and only it', async () => {
    const { handle } = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const owners = supertest.agent(t.app);
    const ownersCookie = deviceCookieOf(await tryLogin(owners, 303, handle)) as string;
    await logout(owners);
    const elsewhere = supertest.agent(t.app);
    const otherCookie = deviceCookieOf(await tryLogin(elsewhere, 303, other.handle)) as string;
    await logout(elsewhere);
    await lockOut(handle);

    // Without the cookie, with the cookie of another handle, or with the owner's cookie altered
    // (another id, keeping its signature): refused, with the form kept.
    const fresh = await tryLogin(supertest.agent(t.app), 429, handle);
    assert.match(fresh.text, /Too many attempts/);
    assert.match(fresh.text, new RegExp(`value="${handle}"`));
    assert.ok(otherCookie);
    await tryLogin(elsewhere, 429, handle);
    const forger = supertest.agent(t.app);
    forger.jar.setCookie(`${ownersCookie.split(';')[0]!.replace(deviceIdOf(ownersCookie) as string, 'A'.repeat(22))}; Path=/`, '127.0.0.1', '/');
    await tryLogin(forger, 429, handle);

    // The owner's browser gets in, onto its contacts page, and none of it counted on the handle.
    const before = await points(`login_handle:${handle}`);
    const login = await tryLogin(owners, 303, handle);
    assert.equal(login.headers.location, '/contacts');
    await owners.get('/contacts').expect(200);
    assert.equal(await points(`login_handle:${handle}`), before);
  });

  it('a trusted browser has ten tries per 15 minutes of its own; past them, or after a password change, it is trusted no more', async () => {
    const { handle, id } = await addAccount(t.domain);
    const owners = supertest.agent(t.app);
    const device = deviceIdOf(deviceCookieOf(await tryLogin(owners, 303, handle))) as string;
    await logout(owners);
    for (let i = 0; i < 10; i++) await tryLogin(owners, 401, handle, 'not the password');
    assert.equal(await points(`login_device:${device}`), 10);
    assert.equal(await points(`login_handle:${handle}`), 0, 'nothing counted on the handle (the first login\'s attempt was taken back)');
    // The eleventh counts like anyone's: on the handle.
    await tryLogin(owners, 401, handle, 'not the password');
    assert.equal(await points(`login_handle:${handle}`), 1);

    // A password change (here by the account itself, elsewhere) ends the trust of every browser.
    const trusted = supertest.agent(t.app);
    const trustedDevice = deviceIdOf(deviceCookieOf(await tryLogin(trusted, 303, handle))) as string;
    await logout(trusted);
    await t.domain.accounts.changePassword(id, { currentPassword: TEST_PASSWORD, newPassword: 'a whole new passphrase for this test' }, { ip: '127.0.0.1' });
    await tryLogin(trusted, 401, handle);
    assert.equal(await points(`login_device:${trustedDevice}`), -1, 'not counted as the device');
    const relogin = deviceCookieOf(await tryLogin(trusted, 303, handle, 'a whole new passphrase for this test'));
    assert.match(relogin ?? '', /^device=s%3A[A-Za-z0-9_-]{22}%3A[1-9][0-9]*%3A/, 'the new cookie carries the change');
    await logout(trusted);
    await tryLogin(trusted, 401, handle);
    assert.equal(await points(`login_device:${deviceIdOf(relogin)}`), 1, 'trusted again');
  });

  it('behind HTTPS the cookie is __Host-device, Secure', async () => {
    const secure = await createTestApp({ env: { PUBLIC_URL: 'https://contacts.test', TRUST_PROXY: '1' } });
    try {
      const { handle } = await addAccount(secure.domain);
      // HTTPS as a proxy in front says it; the agent keeps no Secure cookie over plain HTTP, so the
      // session cookie is carried by hand.
      const page = await supertest(secure.app).get('/login').set('X-Forwarded-Proto', 'https').expect(200);
      const session = ((page.headers['set-cookie'] ?? []) as unknown as string[]).map((cookie) => cookie.split(';')[0]).join('; ');
      const login = await supertest(secure.app)
        .post('/login')
        .set('X-Forwarded-Proto', 'https')
        .set('Cookie', session)
        .type('form')
        .send({ _csrf: csrfTokenOf(page.text), handle, password: TEST_PASSWORD })
        .expect(303);
      const cookie = deviceCookieOf(login, '__Host-device');
      assert.ok(cookie, 'a __Host-device cookie');
      assert.match(cookie, /; Path=\/(;|$)/);
      assert.match(cookie, /; Secure/);
      assert.doesNotMatch(cookie, /; Domain=/i);
    } finally {
      await secure.close();
    }
  });
});
