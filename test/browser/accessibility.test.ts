// axe-core on every page, logged in and out, with errors shown, in English and European Portuguese:
// zero violations. The same run checks that the main pages reflow at 320 px and at 200 % zoom, and
// saves screenshots of them at desktop and phone sizes into docs/screenshots/.
import { AxeBuilder } from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { Language } from '../../src/i18n/index.js';
import { cast, DESKTOP, login, PHONE, requestChange, startBrowserApp, type BrowserApp, type Cast } from './browser-helpers.js';

// Every run takes the screenshots; they replace the README's copies in docs/screenshots/ only when
// UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the working tree clean.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const screenshotsDirectory = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'screenshots') : path.join(repoRoot, 'test-results', 'screenshots');

interface Checked {
  name: string;
  url: string;
  violations: string[];
}

async function axe(page: Page, name: string, results: Checked[]): Promise<void> {
  name = `${name} [${await page.getAttribute('html', 'lang')}]`;
  // Only violations are needed (skipping the details of passes saves time), and the pages have no
  // frames, so axe runs in the page itself ("legacy" mode) instead of finishing in a blank extra page.
  const result = await new AxeBuilder({ page }).setLegacyMode(true).options({ resultTypes: ['violations'] }).analyze();
  results.push({
    name,
    url: page.url(),
    violations: result.violations.map(
      (violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).slice(0, 3).join(', ')}`,
    ),
  });
}

/** The page fits its width: no horizontal scrolling of the whole page. */
async function overflow(page: Page): Promise<number> {
  return Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
}

async function screenshot(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(screenshotsDirectory, `${name}-${size}.png`), animations: 'disabled', caret: 'hide' });
  }
  await page.setViewportSize(DESKTOP);
}

describe('browser: accessibility (axe-core) and layout', function () {
  this.timeout(120_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
    mkdirSync(screenshotsDirectory, { recursive: true });
  });
  after(() => app?.close());

  const languages: { language: Language; locale: 'en' | 'pt' }[] = [
    { language: 'en', locale: 'en' },
    { language: 'pt-PT', locale: 'pt' },
  ];

  /** Visits every page as a logged-out visitor, the administrator and an outsider, in one language. */
  async function checkEveryPage(language: Language, locale: 'en' | 'pt'): Promise<Checked[]> {
    const results: Checked[] = [];
    const shots = language === 'en';
    const c: Cast = await cast(app, { locale, extraServices: 2, showcase: shots });

    // Logged out: the language comes from Accept-Language.
    const anonymous = await (await app.newContext({ locale: language })).newPage();
    await anonymous.goto('/login');
    assert.equal(await anonymous.getAttribute('html', 'lang'), language);
    await axe(anonymous, 'login', results);
    await anonymous.locator('#field-handle').fill(c.admin.handle);
    await anonymous.locator('#field-password').fill('not the password');
    await anonymous.locator('form[action="/login"] button[type="submit"]').click();
    await anonymous.locator('#error-summary').waitFor();
    await axe(anonymous, 'login with error', results);
    await anonymous.goto('/no-such-page');
    await axe(anonymous, '404 logged out', results);

    // Logged in as the administrator.
    const page = await (await app.newContext({ locale: language })).newPage();
    await login(page, c.admin.handle);
    assert.equal(await page.getAttribute('html', 'lang'), language);
    await axe(page, 'contacts', results);

    await page.goto(`/services/${c.service.id}/contacts/edit`);
    await axe(page, 'edit form', results);
    // Errors found by the script before posting…
    await page.locator('#field-tech').fill('not a handle');
    await page.locator('form[data-handle-form] button[type="submit"]').click();
    await page.locator('#error-summary').waitFor();
    await axe(page, 'edit form with errors (script)', results);
    // …and by the server (a well-formed handle nobody has).
    await page.locator('#field-tech').fill('zz999999-ovh');
    await Promise.all([page.waitForResponse((response) => response.request().method() === 'POST'), page.locator('form[data-handle-form] button[type="submit"]').click()]);
    await page.locator('#field-tech-error').waitFor();
    await axe(page, 'edit form with errors (server)', results);
    if (shots) await screenshot(page, 'edit-form-error');

    await page.goto(`/services/${c.service.id}/owner`);
    await axe(page, 'owner form', results);
    await page.locator('#field-phone').fill('call me');
    await page.locator('#field-country').fill('Portugal');
    await page.locator('form[action$="/owner"] button[type="submit"]').click();
    await page.locator('#error-summary').waitFor();
    await axe(page, 'owner form with errors', results);

    // A pending request: the table's marker, My requests, the request page, the confirmation page.
    await requestChange(page, c.service.id, 'tech', c.newcomer.handle);
    await axe(page, 'contacts with confirmation box', results);
    if (shots) await screenshot(page, 'contacts');
    await page.goto(`/contacts?q=${encodeURIComponent(c.service.name.slice(0, 8))}&role=admin`);
    await axe(page, 'contacts filtered', results);
    await page.goto('/contacts?q=nothing-matches-this');
    await axe(page, 'contacts empty', results);

    const link = await app.confirmLink(c.admin.email);
    const requestId = new URL(link).pathname.split('/')[2] as string;
    await page.goto('/requests');
    await page.locator(`tr[data-request-id="${requestId}"] summary`).click();
    await axe(page, 'requests', results);
    await page.goto(`/requests/${requestId}`);
    await axe(page, 'request detail', results);
    await page.goto(link);
    await axe(page, 'confirm page', results);
    if (shots) await screenshot(page, 'confirm');
    await page.locator('input[name="token"]').fill('not-the-right-code-at-all');
    await page.locator('button[value="accept"]').click();
    await page.locator('#error-summary').waitFor();
    await axe(page, 'confirm page with error', results);
    await page.goto(link);
    await Promise.all([page.waitForURL(/\/requests\/\d+$/), page.locator('button[value="accept"]').click()]);
    if (shots) {
      await page.goto('/requests');
      await screenshot(page, 'requests');
    }

    await page.goto('/profile');
    await axe(page, 'profile', results);
    await page.locator('#field-email').fill('not an address');
    await page.locator('form[action="/profile/email"] #field-password').fill('wrong password');
    await page.locator('form[action="/profile/email"] button[type="submit"]').click();
    await page.locator('#error-summary').waitFor();
    await axe(page, 'profile with errors', results);
    await page.goto('/services/999999/contacts/edit');
    await axe(page, '404 logged in', results);

    // Someone else opens the new contact's link.
    const outsider = await (await app.newContext({ locale: language })).newPage();
    await login(outsider, c.outsider.handle);
    await outsider.goto(await app.confirmLink(c.newcomer.email));
    await outsider.locator('form[action="/logout"] .button').first().waitFor();
    await axe(outsider, 'confirm wrong account', results);

    // The development mailbox.
    await anonymous.goto('/dev/mail');
    await axe(anonymous, 'dev mailbox', results);
    await anonymous.locator('table.mail-list a').first().click();
    await anonymous.locator('#dev-mail-text').waitFor();
    await axe(anonymous, 'dev mailbox message', results);

    return results;
  }

  it('every page has no axe violation, in English and in Portuguese', async () => {
    // Both languages side by side: each has its own accounts and browser contexts.
    const all = (await Promise.all(languages.map(({ language, locale }) => checkEveryPage(language, locale)))).flat();
    assert.ok(all.length >= 2 * 22, `only ${all.length} pages checked`);
    const failures = all.filter((result) => result.violations.length > 0);
    assert.deepEqual(
      failures.map((failure) => `${failure.name} (${failure.url}):\n    ${failure.violations.join('\n    ')}`),
      [],
    );
  });

  it('the checker itself reports a violation when there is one', async () => {
    const page = await (await app.newContext()).newPage();
    await page.goto('/login');
    await page.evaluate('document.querySelector("label[for=field-password]").remove()');
    const results: Checked[] = [];
    await axe(page, 'login without a label', results);
    assert.match(results[0]?.violations.join('\n') ?? '', /^label \(critical\)/m);
  });

  it('the main pages need no horizontal scrolling at 320 px and at 200 % zoom', async () => {
    const c = await cast(app, { extraServices: 2 });
    const setup = await (await app.newContext()).newPage();
    await login(setup, c.admin.handle);
    await requestChange(setup, c.service.id, 'billing', c.newcomer.handle);
    const link = await app.confirmLink(c.admin.email);
    const problems: string[] = [];
    // 200 % zoom of a 1280 px window lays pages out in 640 CSS pixels.
    for (const viewport of [
      { width: 320, height: 640, deviceScaleFactor: 1 },
      { width: 640, height: 400, deviceScaleFactor: 2 },
    ]) {
      const context = await app.newContext({ viewport: { width: viewport.width, height: viewport.height }, deviceScaleFactor: viewport.deviceScaleFactor });
      const page = await context.newPage();
      await page.goto('/login');
      if ((await overflow(page)) > 0) problems.push(`${viewport.width}px: /login`);
      await login(page, c.admin.handle);
      const requestId = new URL(link).pathname.split('/')[2] as string;
      for (const url of ['/contacts', `/services/${c.service.id}/contacts/edit`, `/services/${c.service.id}/owner`, '/requests', `/requests/${requestId}`, link, '/profile', '/dev/mail']) {
        await page.goto(url);
        const extra = await overflow(page);
        if (extra > 0) problems.push(`${viewport.width}px: ${url} scrolls ${extra}px sideways`);
      }
      // Every mail of the development mailbox (the confirmation mails hold long links).
      await page.goto('/dev/mail');
      const hrefs = await Promise.all((await page.locator('table.mail-list a').all()).map((link) => link.getAttribute('href')));
      assert.ok(hrefs.length >= 3, 'the mailbox lists the mail of the request');
      for (const href of hrefs) {
        await page.goto(String(href));
        const extra = await overflow(page);
        if (extra > 0) problems.push(`${viewport.width}px: ${String(href)} scrolls ${extra}px sideways`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
