import assert from 'node:assert/strict';
import { addAccount, createTestApp, loginAgent, type TestApp } from '../helpers/test-app.js';

describe('web: the contacts table', () => {
  let t: TestApp;
  let agent: Awaited<ReturnType<typeof loginAgent>>['agent'];
  let csrf: string;
  let mine: string;
  let outsiderService: string;

  before(async () => {
    t = await createTestApp();
    const me = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    mine = me.handle;
    // 60 services where I am the administrator (domains), 3 where I am only billing (hosting).
    for (let i = 0; i < 60; i++) {
      const name = `shop-${String(i).padStart(2, '0')}.pt`;
      await t.domain.services.create({ name, type: 'domain', admin: me.handle, tech: other.handle, billing: other.handle });
    }
    for (let i = 0; i < 3; i++) {
      await t.domain.services.create({ name: `plan-${i}`, type: 'hosting', admin: other.handle, tech: other.handle, billing: me.handle });
    }
    outsiderService = 'secret-of-someone-else.pt';
    await t.domain.services.create({ name: outsiderService, type: 'domain', admin: other.handle, tech: other.handle, billing: other.handle });
    ({ agent, csrf } = await loginAgent(t.app, me.handle));
  });
  after(() => t.close());

  function rowNames(html: string): string[] {
    return [...html.matchAll(/<th scope="row"[^>]*>\s*([^<\s]+)/g)].map((m) => m[1] ?? '');
  }

  it('shows 50 rows per page of my services only, with numbered pages', async () => {
    const page1 = await agent.get('/contacts').expect(200);
    assert.equal(rowNames(page1.text).length, 50);
    assert.match(page1.text, /63 services/);
    assert.ok(!page1.text.includes(outsiderService));
    assert.match(page1.text, /href="\/contacts\?page=2"/);
    const page2 = await agent.get('/contacts?page=2').expect(200);
    assert.equal(rowNames(page2.text).length, 13);
    // A page past the end shows the last page.
    const beyond = await agent.get('/contacts?page=99').expect(200);
    assert.deepEqual(rowNames(beyond.text), rowNames(page2.text));
  });

  it('sends pages without an ETag (never reused: no-store), static files with one', async () => {
    const page = await agent.get('/contacts').expect(200);
    assert.equal(page.headers.etag, undefined);
    assert.equal(page.headers['cache-control'], 'no-store');
    const css = await agent.get('/static/css/main.css').expect(200);
    assert.match(String(css.headers.etag), /^W\/"/);
  });

  it('searches by name, filters by type and by my role, and sorts by type', async () => {
    const search = await agent.get('/contacts?q=SHOP-0').expect(200);
    assert.deepEqual(rowNames(search.text), ['shop-00.pt', 'shop-01.pt', 'shop-02.pt', 'shop-03.pt', 'shop-04.pt', 'shop-05.pt', 'shop-06.pt', 'shop-07.pt', 'shop-08.pt', 'shop-09.pt']);
    const hosting = await agent.get('/contacts?type=hosting').expect(200);
    assert.deepEqual(rowNames(hosting.text), ['plan-0', 'plan-1', 'plan-2']);
    const billing = await agent.get('/contacts?role=billing').expect(200);
    assert.deepEqual(rowNames(billing.text), ['plan-0', 'plan-1', 'plan-2']);
    const secret = await agent.get(`/contacts?q=${encodeURIComponent('secret-of')}`).expect(200);
    assert.deepEqual(rowNames(secret.text), []);
    const byType = await agent.get('/contacts?sort=type').expect(200);
    assert.equal(rowNames(byType.text)[0], 'shop-00.pt');
    assert.match(byType.text, new RegExp(`<strong class="mine">${mine}`));
  });

  it('shows the edit link only as a link to the service form, and marks pending requests', async () => {
    const page = await agent.get('/contacts?q=shop-00').expect(200);
    const match = /href="\/services\/(\d+)\/contacts\/edit"/.exec(page.text);
    assert.ok(match);
    await agent.get(`/services/${match[1]}/contacts/edit`).expect(200);
  });

  it('limits request creation per account with 429', async () => {
    const page = await agent.get('/contacts?q=shop-01').expect(200);
    const id = /href="\/services\/(\d+)\/contacts\/edit"/.exec(page.text)?.[1];
    let status = 0;
    let text = '';
    for (let i = 0; i < 40 && status !== 429; i++) {
      // Submissions that change nothing still count: the limit is on attempts.
      ({ status, text } = await agent.post(`/services/${id}/contacts`).type('form').send({ _csrf: csrf, tech: 'zz999999-ovh' }));
      if (status !== 429) assert.equal(status, 422);
    }
    assert.equal(status, 429);
    const again = await agent.post(`/services/${id}/contacts`).type('form').send({ _csrf: csrf, tech: 'zz999999-ovh' }).expect(429);
    assert.ok(Number(again.headers['retry-after']) > 0);
    // The form again, with the wait as its error and what was typed kept.
    assert.match(text, /Too many attempts/);
    assert.match(text, /name="tech" value="zz999999-ovh"/);
  });
});
