// Progressive enhancement with JavaScript on: live filtering that keeps the caret, the handle check
// before posting, read-only fields that say what may be changed, deciding in place on My requests
// with the state followed through GET /requests/:id/state, confirmations before destructive actions.
// Every one of them is a plain form underneath (the consent-flow test runs it with JavaScript off).
import assert from 'node:assert/strict';
import type { Page, Request } from 'playwright-core';
import { cast, login, requestChange, startBrowserApp, text, until, type BrowserApp, type Cast } from './browser-helpers.js';

function posts(page: Page): Request[] {
  const seen: Request[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST') seen.push(request);
  });
  return seen;
}

async function active(page: Page): Promise<{ id: string; start: number | null; end: number | null; value: string }> {
  return (await page.evaluate(
    '({ id: document.activeElement.id, start: document.activeElement.selectionStart ?? null, end: document.activeElement.selectionEnd ?? null, value: document.activeElement.value ?? "" })',
  )) as { id: string; start: number | null; end: number | null; value: string };
}

/** Marks the current document; a reload (or any navigation to a new document) loses the mark. */
async function markPage(page: Page): Promise<void> {
  await page.evaluate('window.__sameDocument = true');
}

async function isSamePage(page: Page): Promise<boolean> {
  return (await page.evaluate('window.__sameDocument === true')) === true;
}

describe('browser: progressive enhancement', function () {
  this.timeout(60_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(() => app?.close());

  describe('contacts: filter as you type', () => {
    let c: Cast;
    let page: Page;
    before(async () => {
      c = await cast(app, { extraServices: 6 });
      page = await (await app.newContext()).newPage();
      await login(page, c.admin.handle);
    });

    it('swaps the results in while the search field keeps focus and caret', async () => {
      await markPage(page);
      assert.equal(await text(page, '#result-count'), '7 services');
      await page.locator('#filter-q').click();
      await page.keyboard.type('extra', { delay: 30 });
      await until(page, 'document.getElementById("result-count").textContent.trim() === "6 services"');
      assert.deepEqual(await active(page), { id: 'filter-q', start: 5, end: 5, value: 'extra' });
      assert.equal(new URL(page.url()).search, '?q=extra&sort=name');
      // The caret in the middle of the text stays where it was after the swap.
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.type('zz');
      await until(page, 'document.getElementById("result-count").textContent.trim() === "0 services"');
      assert.deepEqual(await active(page), { id: 'filter-q', start: 5, end: 5, value: 'extzzra' });
      assert.equal(await page.locator('#contacts-results .empty').count(), 1);
      // A select filters at once; focus stays on it.
      await page.locator('#filter-q').fill('');
      await page.locator('#filter-type').focus();
      await page.locator('#filter-type').selectOption('hosting');
      await until(page, 'document.getElementById("result-count").textContent.trim() === "3 services"');
      assert.equal((await active(page)).id, 'filter-type');
      assert.equal(await page.locator('table.contacts-table tbody tr').count(), 3);
      assert.ok(await isSamePage(page), 'the page was reloaded');
    });

    it('falls back to loading the page, and puts focus and caret back', async () => {
      await page.goto('/contacts');
      // The script's request fails: it loads the page instead (a document request, not blocked).
      await page.route('**/contacts?*', (route) => (route.request().resourceType() === 'fetch' ? route.abort() : route.continue()));
      await page.locator('#filter-q').click();
      await Promise.all([page.waitForURL('**/contacts?q=site*'), page.keyboard.type('site')]);
      await until(page, 'document.activeElement && document.activeElement.id === "filter-q"');
      assert.deepEqual(await active(page), { id: 'filter-q', start: 4, end: 4, value: 'site' });
      assert.equal(await text(page, '#result-count'), '1 service');
      await page.unroute('**/contacts?*');
    });

    it('does not take focus on an ordinary visit of a filtered page', async () => {
      await page.goto('/contacts?q=extra');
      assert.notEqual((await active(page)).id, 'filter-q');
    });
  });

  describe('edit form', () => {
    let c: Cast;
    before(async () => {
      c = await cast(app);
    });

    it('checks the format of a handle before posting, with the server\'s own message tied to the field', async () => {
      // The server's message for a malformed handle, as the plain form shows it.
      const plain = await (await app.newContext({ javaScriptEnabled: false })).newPage();
      await login(plain, c.admin.handle);
      await plain.goto(`/services/${c.service.id}/contacts/edit`);
      await plain.locator('#field-tech').fill('not a handle');
      await plain.locator('form[data-handle-form] button[type="submit"]').click();
      const serverMessage = await text(plain, '#field-tech-error');
      assert.match(serverMessage, /two letters, 1 to 8 digits/);

      const page = await (await app.newContext()).newPage();
      await login(page, c.admin.handle);
      await page.goto(`/services/${c.service.id}/contacts/edit`);
      assert.equal(await text(page, '#edit-may-change'), 'Administrator, Technical, Billing');
      const sent = posts(page);
      await page.locator('#field-tech').fill('not a handle');
      await page.locator('#field-billing').fill('');
      await page.locator('form[data-handle-form] button[type="submit"]').click();
      assert.equal(sent.length, 0, 'the form was posted');
      assert.equal((await active(page)).id, 'error-summary');
      assert.equal(await text(page, '#error-summary h2'), 'There is a problem');
      assert.deepEqual(await page.locator('#error-summary li').allTextContents(), [serverMessage, 'Enter a customer ID.']);
      assert.equal(await text(page, '#field-tech-error'), serverMessage);
      assert.equal(await page.locator('#field-tech').getAttribute('aria-invalid'), 'true');
      assert.equal(await page.locator('#field-tech').getAttribute('aria-describedby'), 'field-tech-hint field-tech-error');
      assert.equal(await page.locator('#field-billing').getAttribute('aria-describedby'), 'field-billing-hint field-billing-error');
      // A link of the summary puts the caret in its field.
      await page.locator('#error-summary a[href="#field-billing"]').click();
      assert.equal((await active(page)).id, 'field-billing');

      // Correcting a field clears its message at once; a well-formed but unknown handle goes to the server.
      await page.locator('#field-billing').fill(c.billing.handle);
      assert.equal(await page.locator('#field-billing-error').count(), 0);
      assert.equal(await page.locator('#field-billing').getAttribute('aria-invalid'), null);
      await page.locator('#field-tech').fill('zz999999999-ovh');
      await page.locator('#field-tech').blur();
      assert.match(await text(page, '#field-tech-error'), /two letters, 1 to 8 digits/);
      await page.locator('#field-tech').fill('ZZ9999-ovh ');
      await Promise.all([page.waitForResponse((response) => response.request().method() === 'POST'), page.locator('form[data-handle-form] button[type="submit"]').click()]);
      assert.equal(sent.length, 1);
      assert.equal(await text(page, '#field-tech-error'), 'There is no account with the customer ID zz9999-ovh.');
      assert.equal((await active(page)).id, 'error-summary');
    });

    it('says which fields one may change, also when one types into a read-only field (in the reader\'s language)', async () => {
      const pt = await cast(app, { locale: 'pt' });
      const page = await (await app.newContext({ locale: 'pt-PT' })).newPage();
      await login(page, pt.tech.handle);
      await page.goto(`/services/${pt.service.id}/contacts/edit`);
      assert.equal(await text(page, '#edit-may-change'), 'Técnico');
      assert.equal(await page.locator('#field-admin').getAttribute('readonly'), '');
      await page.locator('#field-admin').focus();
      await page.keyboard.type('x');
      assert.equal(await page.locator('#field-admin').inputValue(), pt.admin.handle);
      assert.equal(await text(page, '#edit-status[role="status"]'), 'Com a sua função não pode alterar o contacto Administrador. Pode alterar: Técnico.');
      const sent = posts(page);
      await page.locator('#field-tech').fill('abc');
      await page.locator('form[data-handle-form] button[type="submit"]').click();
      assert.equal(sent.length, 0);
      assert.equal(await text(page, '#field-tech-error'), 'Um ID de cliente tem duas letras, 1 a 8 algarismos, um hífen e "ovh", p. ex. aa123456-ovh.');
      assert.equal(await text(page, '#error-summary h2'), 'Há um problema');
    });
  });

  describe('My requests', () => {
    it('GET /requests/:id/state answers JSON for the people involved, 404 for the others, never cached', async () => {
      const c = await cast(app);
      const adminPage = await (await app.newContext()).newPage();
      await login(adminPage, c.admin.handle);
      await requestChange(adminPage, c.service.id, 'tech', c.newcomer.handle);
      const request = (await app.t.db.knex('change_requests').where({ service_id: c.service.id }).first('id')) as { id: number };

      const mine = await adminPage.request.get(`/requests/${request.id}/state`);
      assert.equal(mine.status(), 200);
      assert.equal(mine.headers()['cache-control'], 'no-store');
      assert.match(mine.headers()['content-type'] ?? '', /^application\/json/);
      assert.deepEqual(await mine.json(), {
        state: 'pending',
        decidedAt: null,
        parties: [
          { handle: c.admin.handle, decision: null },
          { handle: c.newcomer.handle, decision: null },
        ],
      });
      // The outgoing contact is involved (it is told), so it may read the state too.
      const techPage = await (await app.newContext()).newPage();
      await login(techPage, c.tech.handle);
      assert.equal((await techPage.request.get(`/requests/${request.id}/state`)).status(), 200);

      const outsiderPage = await (await app.newContext()).newPage();
      await login(outsiderPage, c.outsider.handle);
      for (const id of [String(request.id), '999999', 'abc']) {
        const foreign = await outsiderPage.request.get(`/requests/${id}/state`);
        assert.equal(foreign.status(), 404, id);
        assert.equal(foreign.headers()['cache-control'], 'no-store');
        assert.deepEqual(Object.keys(await foreign.json()), ['error']);
      }
      const anonymous = await (await app.newContext()).request.get(`/requests/${request.id}/state`, { maxRedirects: 0 });
      assert.equal(anonymous.status(), 303);
      assert.match(anonymous.headers().location ?? '', /^\/login\?next=/);
    });

    it('decides in a row without leaving the page, then follows the state until the other party decides', async () => {
      const c = await cast(app);
      const adminPage = await (await app.newContext()).newPage();
      await login(adminPage, c.admin.handle);
      await requestChange(adminPage, c.service.id, 'billing', c.newcomer.handle);
      const adminLink = await app.confirmLink(c.admin.email);
      const newcomerLink = await app.confirmLink(c.newcomer.email);
      const id = new URL(newcomerLink).pathname.split('/')[2] as string;

      const page = await (await app.newContext()).newPage();
      await login(page, c.newcomer.handle);
      await page.goto('/requests');
      const row = page.locator(`tr[data-request-id="${id}"]`);
      await markPage(page);

      // A wrong code: the server's message appears next to the field of that row, which gets the focus.
      await row.locator('summary').click();
      await row.locator('input[name="token"]').fill('wrong-code-wrong-code');
      await row.getByRole('button', { name: 'Accept' }).click();
      await page.waitForSelector(`#field-token-${id}-error`);
      assert.match(await text(page, `#field-token-${id}-error`), /This code is not valid for this request/);
      assert.equal(await row.locator('input[name="token"]').getAttribute('aria-describedby'), `field-token-${id}-hint field-token-${id}-error`);
      assert.equal((await active(page)).id, `field-token-${id}`);

      // The right code: the server's message in the status area, the row updated, the form gone.
      await row.locator('input[name="token"]').fill(new URL(newcomerLink).searchParams.get('token') ?? '');
      await row.getByRole('button', { name: 'Accept' }).click();
      await until(page, `document.getElementById("flash").textContent.includes("still waiting for ${c.admin.handle}")`);
      assert.equal(await row.locator('details').count(), 0);
      await row.locator(`li[data-handle="${c.newcomer.handle}"]`, { hasText: 'accepted' }).waitFor();
      assert.match(await text(page, `tr[data-request-id="${id}"] [data-field="parties"]`), new RegExp(`${c.admin.handle}: waiting\\s*${c.newcomer.handle}: accepted`));
      assert.equal(await row.getAttribute('data-state'), 'pending');

      // The administrator accepts elsewhere: the row follows.
      await adminPage.goto(adminLink);
      await Promise.all([adminPage.waitForURL(/\/requests\/\d+$/), adminPage.getByRole('button', { name: 'Accept' }).click()]);
      await page.waitForSelector(`tr[data-request-id="${id}"][data-state="done"]`, { timeout: 15_000 });
      assert.equal(await text(page, `tr[data-request-id="${id}"] [data-field="state"]`), 'Done');
      assert.equal(await text(page, '#flash'), `Request #${id} is now: Done.`);
      // Its dates say when it was decided rather than when it would have expired, in the browser's zone.
      const decided = (await app.t.db.knex('change_requests').where({ id: Number(id) }).first('decided_at')) as { decided_at: number };
      const time = row.locator('[data-field="deadline"] time');
      assert.equal(await time.getAttribute('datetime'), new Date(Number(decided.decided_at)).toISOString());
      assert.equal(await time.getAttribute('data-local'), 'en-GB');
      assert.match(await text(page, `tr[data-request-id="${id}"] [data-field="deadline"]`), /^decided \d{1,2} \w{3,4} \d{4}, \d\d:\d\d \S+$/);
      assert.ok(await isSamePage(page), 'the page was reloaded');
    });

    it('asks before refusing and before cancelling; answering no posts nothing', async () => {
      const c = await cast(app);
      const adminPage = await (await app.newContext()).newPage();
      await login(adminPage, c.admin.handle);
      await requestChange(adminPage, c.service.id, 'tech', c.newcomer.handle);
      const link = await app.confirmLink(c.newcomer.email);
      const id = new URL(link).pathname.split('/')[2] as string;

      // Cancel, on the request page of the requester.
      await adminPage.goto(`/requests/${id}`);
      const sent = posts(adminPage);
      const questions: string[] = [];
      adminPage.once('dialog', (dialog) => {
        questions.push(dialog.message());
        void dialog.dismiss();
      });
      await adminPage.getByRole('button', { name: 'Cancel the request' }).click();
      assert.deepEqual(questions, ['Cancel this request? Everyone concerned will be told.']);
      assert.equal(sent.length, 0);

      // Refuse, on the confirmation page of the new contact: no, then yes.
      const page = await (await app.newContext()).newPage();
      await login(page, c.newcomer.handle, new URL(link).pathname + new URL(link).search);
      const pagePosts = posts(page);
      page.once('dialog', (dialog) => {
        questions.push(dialog.message());
        void dialog.dismiss();
      });
      await page.getByRole('button', { name: 'Refuse' }).click();
      assert.equal(pagePosts.length, 0);
      page.once('dialog', (dialog) => {
        questions.push(dialog.message());
        void dialog.accept();
      });
      await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.getByRole('button', { name: 'Refuse' }).click()]);
      assert.equal(pagePosts.length, 1);
      assert.equal(pagePosts[0]?.postDataJSON().decision, 'refuse');
      assert.deepEqual(questions.slice(1), ['Refuse this change? The request will end for everyone.', 'Refuse this change? The request will end for everyone.']);
      assert.match(await text(page, '#flash'), /You refused the change/);
    });
  });
});
