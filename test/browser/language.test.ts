// The reader's language, with JavaScript off: Accept-Language for a visitor, the switcher (a plain
// form) for the session, the account's locale once logged in — and dates in that language. The
// reader's time zone: the browser's with JavaScript, the default zone without, the account's own
// once it chose one.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { cast, login, requestChange, startBrowserApp, text, until, type BrowserApp } from './browser-helpers.js';

const DATE_OPTIONS: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };

describe('browser: language', function () {
  this.timeout(60_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(() => app?.close());

  it('Accept-Language, then the switcher, then the account\'s locale; dates follow the reader', async () => {
    const c = await cast(app);

    // A Portuguese browser gets Portuguese pages before anyone logs in.
    const portuguese = await (await app.newContext({ locale: 'pt-PT', javaScriptEnabled: false })).newPage();
    await portuguese.goto('/login');
    assert.equal(await portuguese.getAttribute('html', 'lang'), 'pt-PT');
    assert.equal(await text(portuguese, 'h1'), 'Iniciar sessão');

    // An English browser; the switcher changes the session's language without JavaScript.
    const page = await (await app.newContext({ locale: 'en', javaScriptEnabled: false })).newPage();
    await page.goto('/login');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await page.locator('#language-select').selectOption('pt-PT');
    await Promise.all([page.waitForURL('**/login'), page.locator('form.language-switch button[type="submit"]').click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'pt-PT');
    assert.equal(await text(page, 'h1'), 'Iniciar sessão');
    assert.equal(await page.locator('#language-select option[selected]').getAttribute('value'), 'pt-PT');

    // Logged in, the account's locale (English) wins over the session's choice.
    await page.locator('#field-handle').fill(c.admin.handle);
    await page.locator('#field-password').fill('correct horse battery staple');
    await Promise.all([page.waitForURL('**/contacts'), page.locator('form[action="/login"] button[type="submit"]').click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await text(page, 'h1'), 'Contacts of my services');

    // A request, and its dates in English.
    await requestChange(page, c.service.id, 'tech', c.newcomer.handle);
    const request = (await app.t.db.knex('change_requests').where({ service_id: c.service.id }).first('id', 'created_at')) as { id: number; created_at: number };
    // JavaScript is off: the server's text, in the default zone (Lisbon), with the zone's short name.
    const format = (locale: string) => new Intl.DateTimeFormat(locale, { ...DATE_OPTIONS, timeZone: 'Europe/Lisbon' }).format(new Date(Number(request.created_at)));
    await page.goto(`/requests/${request.id}`);
    assert.match(await text(page, 'dl.summary'), new RegExp(`Created\\s*${format('en-GB')}`));

    // The switcher, logged in, changes the account's locale: it stays after logging out and in again.
    await page.locator('#language-select').selectOption('pt-PT');
    await Promise.all([page.waitForURL(`**/requests/${request.id}`), page.locator('form.language-switch button[type="submit"]').click()]);
    assert.equal(await page.getAttribute('html', 'lang'), 'pt-PT');
    assert.match(await text(page, 'dl.summary'), new RegExp(`Criado\\s*${format('pt-PT')}`));
    const account = (await app.t.db.knex('accounts').where({ id: c.admin.id }).first('locale')) as { locale: string };
    assert.equal(account.locale, 'pt');
    await page.locator('form[action="/logout"] button[type="submit"]').click();

    const elsewhere = await (await app.newContext({ locale: 'en', javaScriptEnabled: false })).newPage();
    await login(elsewhere, c.admin.handle);
    assert.equal(await elsewhere.getAttribute('html', 'lang'), 'pt-PT');
    assert.equal(await text(elsewhere, 'h1'), 'Contactos dos meus serviços');
    await elsewhere.goto('/profile');
    assert.match(await text(elsewhere, 'dl.summary'), /Idioma\s*Português/);
  });

  it('dates in the browser\'s zone with JavaScript, the default zone without, the account\'s zone once it chose one', async () => {
    const c = await cast(app);
    const [request] = await app.t.domain.requests.submit(c.admin.id, c.service.id, { tech: c.newcomer.handle }, { ip: null });
    assert.ok(request);
    const created = `time[datetime="${new Date(request.createdAt).toISOString()}"]`;
    const inZone = (timeZone: string, locale = 'en-GB') => new Intl.DateTimeFormat(locale, { ...DATE_OPTIONS, timeZone }).format(new Date(request.createdAt));
    const shown = async (page: Page, path: string) => {
      await page.goto(path);
      return text(page, created);
    };
    // The script replaces the server's text once the page has run it.
    const shownByScript = async (page: Page, path: string, expected: string) => {
      await page.goto(path);
      await until(page, `document.querySelector(${JSON.stringify(created)}).textContent === ${JSON.stringify(expected)}`);
      return text(page, created);
    };
    assert.notEqual(inZone('Asia/Tokyo'), inZone('Europe/Lisbon'));

    // No zone chosen, JavaScript on, a browser in Tokyo: Tokyo time on My requests and on the request's page.
    const tokyo = await (await app.newContext({ timezoneId: 'Asia/Tokyo' })).newPage();
    await login(tokyo, c.admin.handle);
    assert.equal(await shownByScript(tokyo, '/requests', inZone('Asia/Tokyo')), inZone('Asia/Tokyo'));
    assert.match(inZone('Asia/Tokyo'), /GMT\+9$/);
    assert.equal(await shownByScript(tokyo, `/requests/${request.id}`, inZone('Asia/Tokyo')), inZone('Asia/Tokyo'));

    // JavaScript off, the same browser: the default zone, as the server wrote it.
    const noScript = await (await app.newContext({ timezoneId: 'Asia/Tokyo', javaScriptEnabled: false })).newPage();
    await login(noScript, c.admin.handle);
    assert.equal(await shown(noScript, '/requests'), inZone('Europe/Lisbon'));
    assert.equal(await shown(noScript, `/requests/${request.id}`), inZone('Europe/Lisbon'));

    // The account chooses New York on its profile (a plain form): every page shows New York time, in Tokyo too.
    await noScript.goto('/profile');
    assert.match(await text(noScript, 'dl.summary'), /Time zone\s*Automatic \(your browser's time zone; Europe\/Lisbon without JavaScript\)/);
    await noScript.locator('#field-timeZone').selectOption('America/New_York');
    await Promise.all([noScript.waitForURL('**/profile'), noScript.locator('form[action="/profile/time-zone"] button[type="submit"]').click()]);
    assert.equal(await text(noScript, '#flash'), 'Time zone saved.');
    assert.match(await text(noScript, 'dl.summary'), /Time zone\s*America\/New York \(Eastern Time\)/);
    assert.equal(await shown(noScript, '/requests'), inZone('America/New_York'));
    assert.equal(await shown(tokyo, '/requests'), inZone('America/New_York'));
    assert.equal(await shown(tokyo, `/requests/${request.id}`), inZone('America/New_York'));
    assert.equal(await tokyo.locator('time[data-local]').count(), 0, 'nothing left for the browser to change');
  });
});
