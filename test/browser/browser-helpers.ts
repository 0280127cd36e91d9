// Real-browser tests: the whole application (all middleware, a real database) listening on a free
// loopback port, one Chromium per test file, and the mail read the way a person reads it — the
// outbox is sent with the file transport and the .eml file is parsed for its single link.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import type { Account } from '../../src/domain/accounts.js';
import type { Role } from '../../src/domain/roles.js';
import { createI18n } from '../../src/i18n/index.js';
import { createLogger } from '../../src/logger.js';
import { createDispatcher, type Dispatcher } from '../../src/mail/dispatcher.js';
import { createMailRenderer } from '../../src/mail/render.js';
import { createTransport, MAIL_FILE_PATTERN } from '../../src/mail/transport.js';
import { addAccount, createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';

export { TEST_PASSWORD };

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 375, height: 740 } as const;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

export interface BrowserApp {
  t: TestApp;
  baseUrl: string;
  browser: Browser;
  /** Sends every mail due in the outbox to files in the app's MAIL_DIR (as the worker would). */
  sendMail(): Promise<void>;
  /** The single confirmation link of the newest confirmation mail to `email` (read from its .eml file). */
  confirmLink(email: string): Promise<string>;
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function startBrowserApp(): Promise<BrowserApp> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`No Chromium at ${CHROMIUM_PATH}: install Debian's chromium package or set CHROMIUM_PATH (browsers are never downloaded).`);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const t = await createTestApp({ env: { PUBLIC_URL: baseUrl } });
  const server: Server = t.app.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
  const logger = createLogger({ level: 'silent', name: 'test' });
  const dispatcher: Dispatcher = createDispatcher({
    knex: t.db.knex,
    transport: createTransport(t.config, { logger }),
    renderer: createMailRenderer({ i18n: createI18n(), publicUrl: t.config.publicUrl, defaultTimeZone: t.config.defaultTimeZone }),
    logger,
    workerId: `browser-test:${process.pid}`,
  });
  const contexts: BrowserContext[] = [];

  async function sendMail() {
    for (let round = 0; round < 20; round += 1) {
      const result = await dispatcher.dispatchOnce();
      if (result.sent + result.retried + result.dead === 0) return;
      assert.equal(result.dead, 0, 'a mail could not be sent');
    }
  }

  async function confirmLink(email: string): Promise<string> {
    await sendMail();
    const row = (await t.db.knex('outbox').where({ recipient_address: email, kind: 'request.confirm' }).orderBy('id', 'desc').first('id')) as { id: number } | undefined;
    assert.ok(row, `no confirmation mail to ${email}`);
    const file = readdirSync(t.config.mailDir).find((name) => MAIL_FILE_PATTERN.exec(name)?.[2] === String(row.id));
    assert.ok(file, `the confirmation mail to ${email} was not written`);
    const mail = await simpleParser(readFileSync(path.join(t.config.mailDir, file)));
    const links = new Set([...(mail.text ?? '').matchAll(/https?:\/\/[^\s<>"]+/g)].map((match) => match[0]));
    const confirm = [...links].filter((link) => link.includes('/confirm?token='));
    assert.equal(confirm.length, 1, `expected exactly one confirmation link in the mail to ${email}, found ${confirm.length}`);
    assert.ok(confirm[0]?.startsWith(`${baseUrl}/requests/`), `the link ${confirm[0]} does not point at PUBLIC_URL`);
    return confirm[0] as string;
  }

  return {
    t,
    baseUrl,
    browser,
    sendMail,
    confirmLink,
    async newContext(options = {}) {
      const context = await browser.newContext({ baseURL: baseUrl, viewport: DESKTOP, locale: 'en', reducedMotion: 'reduce', ...options });
      context.setDefaultTimeout(10_000);
      contexts.push(context);
      return context;
    },
    async close() {
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser.close().catch(() => undefined);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await t.close();
    },
  };
}

export interface Cast {
  admin: Account;
  tech: Account;
  billing: Account;
  newcomer: Account;
  outsider: Account;
  service: { id: number; name: string };
}

let serviceCounter = 0;

const PEOPLE = ['Alice Admin', 'Tiago Técnico', 'Beatriz Billing', 'Nuno Newcomer', 'Olga Outsider'];
/** Stable handles and names for the run that takes the screenshots (once per test file: each has its own database). */
const SHOWCASE = { handles: ['ab123456-ovh', 'tc234567-ovh', 'bf345678-ovh', 'nn456789-ovh', 'oo567890-ovh'], service: 'example.pt', extras: ['blog.example.pt', 'shop.example.pt', 'vps.example.pt'] };

/** Accounts and one domain: admin, tech, billing, a future contact and someone unrelated. */
export async function cast(app: BrowserApp, options: { locale?: 'en' | 'pt'; type?: string; extraServices?: number; showcase?: boolean } = {}): Promise<Cast> {
  const locale = options.locale ?? 'en';
  const [admin, tech, billing, newcomer, outsider] = await Promise.all(
    PEOPLE.map((name, i) => addAccount(app.t.domain, { locale, name, ...(options.showcase ? { handle: SHOWCASE.handles[i] } : {}) })),
  );
  assert.ok(admin && tech && billing && newcomer && outsider);
  serviceCounter += 1;
  const name = options.showcase ? SHOWCASE.service : `site-${serviceCounter}-${admin.handle}.pt`;
  const service = await app.t.domain.services.create({ name, type: options.type ?? 'domain', admin: admin.handle, tech: tech.handle, billing: billing.handle });
  for (let i = 0; i < (options.extraServices ?? 0); i += 1) {
    await app.t.domain.services.create({
      name: (options.showcase && SHOWCASE.extras[i]) || `extra-${serviceCounter}-${i}.example`,
      type: i % 2 ? 'hosting' : 'vps',
      admin: admin.handle,
      tech: i % 3 ? tech.handle : admin.handle,
      billing: admin.handle,
    });
  }
  return { admin, tech, billing, newcomer, outsider, service: { id: service.id, name } };
}

/** Logs in through the login form (works with and without JavaScript). */
export async function login(page: Page, handle: string, next?: string): Promise<void> {
  await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await page.locator('#field-handle').fill(handle);
  await page.locator('#field-password').fill(TEST_PASSWORD);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.locator('form[action="/login"] button[type="submit"]').click()]);
}

/** The edit form of a service: `role` field filled with `handle`, then posted. */
export async function requestChange(page: Page, serviceId: number, role: Role, handle: string): Promise<void> {
  await page.goto(`/services/${serviceId}/contacts/edit`);
  await page.locator(`#field-${role}`).fill(handle);
  try {
    await Promise.all([page.waitForURL((url) => url.pathname === '/contacts'), page.locator('form[data-handle-form] button[type="submit"]').click()]);
  } catch (error) {
    // Say what the page answered instead of the redirect (an error summary, an error page).
    const shown = await page
      .locator('h1, .error-summary, .flash')
      .allTextContents()
      .catch(() => []);
    throw new Error(`posting the edit form of service ${serviceId} did not lead to /contacts: ${page.url()} shows ${JSON.stringify(shown.map((t) => t.replace(/\s+/g, ' ').trim()))}`, { cause: error });
  }
}

export async function text(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/** A computed style property of the first element matching `selector` (the tests have no DOM types: plain strings). */
export async function computedStyle(page: Page, selector: string, property: string): Promise<string> {
  return String(await page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(selector)}))[${JSON.stringify(property)}]`));
}

/**
 * Waits until a page expression is truthy. Polled from here: the page's CSP (script-src 'self') forbids the
 * string evaluation page.waitForFunction would need.
 */
export async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expression).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
