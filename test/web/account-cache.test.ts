// The logged-in account is served from memory for a moment between requests (like the session):
// a change made through this process shows on the very next page, a change made elsewhere (the
// CLI, another web process) once the cache time has passed.
import assert from 'node:assert/strict';
import { addAccount, createTestApp, loginAgent, type TestApp } from '../helpers/test-app.js';

describe('web: logged-in account cache', () => {
  let t: TestApp;
  let uncached: TestApp;
  before(async () => {
    t = await createTestApp({ sessionCache: { readMs: 60_000, touchIntervalMs: 60_000 } });
    uncached = await createTestApp({ db: t.db, sessionCache: { readMs: 0, touchIntervalMs: 0 } });
  });
  after(() => t.close());

  it('serves the account from memory within the cache time, and never after a form post', async () => {
    const account = await addAccount(t.domain, { name: 'Before Name' });
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    assert.match((await agent.get('/profile').expect(200)).text, /Before Name/);

    // Changed behind the app's back (as the CLI would): not seen within the cache time …
    await t.db.knex('accounts').where({ id: account.id }).update({ name: 'After Name' });
    assert.match((await agent.get('/profile').expect(200)).text, /Before Name/);

    // … but a form post (here the language switcher) forgets it, so the next page reads it again.
    await agent.post('/language').type('form').send({ _csrf: csrf, language: 'en', next: '/profile' }).expect(303);
    assert.match((await agent.get('/profile').expect(200)).text, /After Name/);
  });

  it('reads the account on every request with the cache off', async () => {
    const account = await addAccount(uncached.domain, { name: 'First Name' });
    const { agent } = await loginAgent(uncached.app, account.handle);
    await uncached.db.knex('accounts').where({ id: account.id }).update({ name: 'Second Name' });
    assert.match((await agent.get('/profile').expect(200)).text, /Second Name/);
  });
});
