// The whole consent flow in a real browser, once with JavaScript off and once with it on: the
// administrator names a new technical contact, both parties confirm through the link mailed to
// them (each in a browser context of their own), and the contacts table changes.
import assert from 'node:assert/strict';
import { cast, computedStyle, login, requestChange, startBrowserApp, text, type BrowserApp } from './browser-helpers.js';

describe('browser: the consent flow', function () {
  this.timeout(60_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(() => app?.close());

  for (const javaScriptEnabled of [false, true]) {
    it(`admin changes the technical contact; both parties accept through the mailed link (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
      const { admin, tech, newcomer, service } = await cast(app);
      const adminContext = await app.newContext({ javaScriptEnabled });
      const newcomerContext = await app.newContext({ javaScriptEnabled });
      const adminPage = await adminContext.newPage();
      const scriptErrors: string[] = [];
      adminPage.on('pageerror', (error) => scriptErrors.push(error.message));

      // Log in, find the service, open its edit form from the table.
      await login(adminPage, admin.handle);
      assert.equal(new URL(adminPage.url()).pathname, '/contacts');
      const row = adminPage.locator('table.contacts-table tbody tr', { hasText: service.name });
      assert.equal(await row.locator('td[data-label="Technical"]').textContent(), tech.handle);
      await row.getByRole('link', { name: `Edit contacts of ${service.name}` }).click();
      await adminPage.waitForURL(`**/services/${service.id}/contacts/edit`);
      assert.equal(await adminPage.locator('#field-tech').inputValue(), tech.handle);

      // Submit: back on the table, with the green confirmation box naming the new request.
      await requestChange(adminPage, service.id, 'tech', newcomer.handle);
      const box = adminPage.locator('.notice--success');
      assert.ok(await box.isVisible(), 'no confirmation box');
      assert.equal(await computedStyle(adminPage, '.notice--success', 'backgroundColor'), 'rgb(230, 244, 234)');
      assert.match(await text(adminPage, '.notice--success'), new RegExp(`Request #\\d+: Technical from ${tech.handle} to ${newcomer.handle} — to be confirmed by ${admin.handle} \\+ ${newcomer.handle}`));
      assert.match(await text(adminPage, `table.contacts-table tbody tr:has-text("${service.name}") th`), /change pending/);

      // The administrator follows its link: the token is filled in; the GET decided nothing.
      const adminLink = await app.confirmLink(admin.email);
      const newcomerLink = await app.confirmLink(newcomer.email);
      assert.notEqual(adminLink, newcomerLink);
      await adminPage.goto(adminLink);
      assert.equal(await adminPage.locator('input[name="token"]').inputValue(), new URL(adminLink).searchParams.get('token'));
      await Promise.all([adminPage.waitForURL(/\/requests\/\d+$/), adminPage.getByRole('button', { name: 'Accept' }).click()]);
      assert.match(await text(adminPage, '#flash'), new RegExp(`still waiting for ${newcomer.handle}`));

      // With JavaScript, My requests follows the pending request the administrator just decided.
      const requestId = new URL(adminLink).pathname.split('/')[2] as string;
      if (javaScriptEnabled) {
        await adminPage.goto('/requests');
        const myRow = adminPage.locator(`tr[data-request-id="${requestId}"]`);
        assert.equal(await myRow.getAttribute('data-state'), 'pending');
      }

      // The new contact, logged out, opens its link in its own browser: login first, then back to the page.
      const newcomerPage = await newcomerContext.newPage();
      await newcomerPage.goto(newcomerLink);
      assert.equal(new URL(newcomerPage.url()).pathname, '/login');
      await newcomerPage.locator('#field-handle').fill(newcomer.handle);
      await newcomerPage.locator('#field-password').fill('correct horse battery staple');
      await Promise.all([newcomerPage.waitForURL(/\/confirm\?token=/), newcomerPage.locator('form[action="/login"] button[type="submit"]').click()]);
      assert.equal(await newcomerPage.locator('input[name="token"]').inputValue(), new URL(newcomerLink).searchParams.get('token'));
      await Promise.all([newcomerPage.waitForURL(/\/requests\/\d+$/), newcomerPage.getByRole('button', { name: 'Accept' }).click()]);
      assert.match(await text(newcomerPage, '#flash'), /Both confirmations are in: the change has been applied/);

      if (javaScriptEnabled) {
        // The administrator's My requests page updates the row by itself and says so in the status area.
        const myRow = adminPage.locator(`tr[data-request-id="${requestId}"]`);
        await adminPage.waitForSelector(`tr[data-request-id="${requestId}"][data-state="done"]`, { timeout: 15_000 });
        assert.equal(await text(adminPage, `tr[data-request-id="${requestId}"] [data-field="state"]`), 'Done');
        assert.match(await text(adminPage, `tr[data-request-id="${requestId}"] [data-field="parties"]`), new RegExp(`${newcomer.handle}: accepted`));
        assert.match(await text(adminPage, '#flash[role="status"]'), new RegExp(`Request #${requestId} is now: Done`));
        assert.equal(await myRow.locator('.row-actions form').count(), 0);
      }

      // The table shows the new technical contact, with no pending marker.
      await adminPage.goto('/contacts');
      const changed = adminPage.locator('table.contacts-table tbody tr', { hasText: service.name });
      assert.equal(await changed.locator('td[data-label="Technical"]').textContent(), newcomer.handle);
      assert.equal(await changed.locator('.badge--pending').count(), 0);
      assert.deepEqual(scriptErrors, []);
    });
  }
});
