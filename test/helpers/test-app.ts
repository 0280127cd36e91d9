// Boots the real web application (all middleware, real database) for supertest.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config.js';
import { createReadKnex } from '../../src/db/knex.js';
import { createDomain, type Domain } from '../../src/domain/index.js';
import { createI18n } from '../../src/i18n/index.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/web/app.js';
import type { SessionCacheOptions } from '../../src/web/middleware/session-store.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TestApp {
  app: Express;
  db: TestDatabase;
  domain: Domain;
  config: Config;
  close(): Promise<void>;
}

export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): Config {
  const varDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-var-'));
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: 'test-secret-test-secret-test-secret-0123',
    VAR_DIR: varDir,
    MAIL_DIR: path.join(varDir, 'mail'),
    PUBLIC_URL: 'http://contacts.test',
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

export async function createTestApp(
  options: { env?: Record<string, string>; db?: TestDatabase; logLines?: string[]; sessionCache?: SessionCacheOptions } = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const config = testConfig(db.url, options.env);
  // As in src/web/server.ts: on SQLite the contacts list is read on read-only connections of its own.
  const reader = createReadKnex({ url: db.url, client: db.client, connections: config.sqliteReadConnections }, db.knex);
  if (reader !== db.knex) db.adopt(reader);
  const domain = createDomain({ knex: db.knex, reader, handleSuffix: config.handleSuffix, requestTtlMs: config.requestTtlMs });
  const logLines = options.logLines;
  const logger = logLines
    ? createLogger({ level: 'debug', name: 'test', destination: { write: (line: string) => void logLines.push(line) } })
    : createLogger({ level: 'silent', name: 'test' });
  const app = createApp({ config, knex: db.knex, domain, i18n: createI18n(), logger, sessionCache: options.sessionCache });
  return { app, db, domain, config, close: () => db.destroy() };
}

export function csrfTokenOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no CSRF token in page');
  return match[1];
}

/** A logged-in supertest agent (cookies kept), with the session's current CSRF token. */
export async function loginAgent(app: Express, handle: string, password = TEST_PASSWORD) {
  const agent = supertest.agent(app);
  const page = await agent.get('/login').expect(200);
  const response = await agent
    .post('/login')
    .type('form')
    .send({ _csrf: csrfTokenOf(page.text), handle, password });
  if (response.status !== 303) throw new Error(`login as ${handle} failed with ${response.status}`);
  const contacts = await agent.get('/contacts').expect(200);
  return { agent, csrf: csrfTokenOf(contacts.text) };
}

let handleCounter = 0;
export function nextHandle(): string {
  handleCounter += 1;
  return `tt${String(handleCounter).padStart(6, '0')}-ovh`;
}

export async function addAccount(domain: Domain, fields: { handle?: string; email?: string; locale?: 'en' | 'pt'; name?: string } = {}) {
  const handle = fields.handle ?? nextHandle();
  return domain.accounts.create({
    handle,
    email: fields.email ?? `${handle}@example.test`,
    name: fields.name ?? `Person ${handle}`,
    locale: fields.locale ?? 'en',
    password: TEST_PASSWORD,
  });
}
