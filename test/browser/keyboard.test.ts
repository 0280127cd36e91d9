// A keyboard-only pass: Tab, Shift+Tab, Enter and Space to move and act (and typing into fields):
// skip link, login, filter, open the edit form, a refused then an accepted submission. Every element
// that takes focus on the way must show it.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { cast, startBrowserApp, TEST_PASSWORD, text, until, type BrowserApp, type Cast } from './browser-helpers.js';

interface Focused {
  tag: string;
  id: string;
  className: string;
  text: string;
  outline: string;
  outlineWidth: string;
  inViewport: boolean;
}

async function focused(page: Page): Promise<Focused> {
  return (await page.evaluate(`(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return {
      tag: el.tagName.toLowerCase(), id: el.id, className: String(el.className || ''), text: (el.textContent || '').trim().slice(0, 60),
      outline: style.outlineStyle, outlineWidth: style.outlineWidth,
      inViewport: box.right > 0 && box.bottom > 0 && box.left < innerWidth && box.top < innerHeight,
    };
  })()`)) as Focused;
}

function describeFocus(f: Focused): string {
  return `<${f.tag}${f.id ? '#' + f.id : ''}${f.className ? '.' + f.className.split(' ').join('.') : ''}> "${f.text}"`;
}

describe('browser: keyboard only', function () {
  this.timeout(60_000);
  let app: BrowserApp;
  let c: Cast;
  before(async () => {
    app = await startBrowserApp();
    c = await cast(app, { extraServices: 3 });
  });
  after(() => app?.close());

  /** Presses Tab until the focused element matches `selector`; each stop on the way must show its focus. */
  async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
    const seen: string[] = [];
    for (let i = 0; i < max; i += 1) {
      await page.keyboard.press('Tab');
      const f = await focused(page);
      seen.push(describeFocus(f));
      assert.notEqual(f.tag, 'body', `focus was lost after ${seen.join(' → ')}`);
      assert.ok(f.outline !== 'none' && f.outlineWidth !== '0px', `no visible focus on ${describeFocus(f)}`);
      assert.ok(f.inViewport, `${describeFocus(f)} has focus but is off screen`);
      if (await page.evaluate(`document.activeElement.matches(${JSON.stringify(selector)})`)) return;
    }
    assert.fail(`${selector} was not reached with Tab: ${seen.join(' → ')}`);
  }

  async function skipToContent(page: Page): Promise<void> {
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    await page.keyboard.press('Tab');
    const skip = await focused(page);
    assert.equal(skip.className, 'skip-link', `the first Tab stop is ${describeFocus(skip)}`);
    assert.ok(skip.inViewport && skip.outline !== 'none', 'the skip link is not visible when focused');
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'main');
  }

  it('logs in, filters, opens the edit form and submits it without a mouse', async () => {
    const context = await app.newContext();
    const page = await context.newPage();
    await page.goto('/login');

    // Skip link, then straight into the login form.
    await skipToContent(page);
    await tabTo(page, '#field-handle', 1);
    await page.keyboard.type(c.admin.handle);
    await tabTo(page, '#field-password', 1);
    await page.keyboard.type(TEST_PASSWORD);
    await tabTo(page, 'form[action="/login"] button[type="submit"]', 1);
    await Promise.all([page.waitForURL('**/contacts'), page.keyboard.press('Enter')]);

    // The filter is the first thing after the skip link; results follow the typing, focus stays.
    await skipToContent(page);
    await tabTo(page, '#filter-q', 1);
    await page.keyboard.type('site-');
    await until(page, 'document.getElementById("result-count").textContent.trim() === "1 service"');
    assert.equal((await focused(page)).id, 'filter-q');

    // On to the edit link of the one row left (past the other filters and the scrollable table region).
    await tabTo(page, 'a.edit-link');
    assert.equal(await page.evaluate('document.activeElement.getAttribute("aria-label")'), `Edit contacts of ${c.service.name}`);
    await Promise.all([page.waitForURL(`**/services/${c.service.id}/contacts/edit`), page.keyboard.press('Enter')]);

    // A malformed handle: Space on the button shows the error summary, with focus on it.
    await skipToContent(page);
    await tabTo(page, '#field-tech');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('nobody');
    await tabTo(page, 'form[data-handle-form] button[type="submit"]');
    await page.keyboard.press('Space');
    await until(page, 'document.activeElement && document.activeElement.id === "error-summary"');
    assert.match(await text(page, '#error-summary'), /There is a problem/);

    // Enter on the summary's link goes to the field; correct it and submit with Enter on the button.
    await tabTo(page, '#error-summary a', 1);
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'field-tech');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(c.newcomer.handle);
    await tabTo(page, 'form[data-handle-form] button[type="submit"]');
    await Promise.all([page.waitForURL('**/contacts'), page.keyboard.press('Enter')]);
    assert.match(await text(page, '.notice--success'), new RegExp(`Technical from ${c.tech.handle} to ${c.newcomer.handle}`));

    // Back up with Shift+Tab from the filter: the navigation and the language switcher are reachable too.
    await page.locator('#filter-q').focus();
    const stops: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      await page.keyboard.press('Shift+Tab');
      const f = await focused(page);
      assert.ok(f.outline !== 'none', `no visible focus on ${describeFocus(f)}`);
      stops.push(f.id || f.text);
      if (f.className === 'skip-link') break;
    }
    for (const expected of ['language-select', 'Log out', 'My requests', 'Contacts']) assert.ok(stops.includes(expected), `${expected} not reached: ${stops.join(' ← ')}`);
  });
});
