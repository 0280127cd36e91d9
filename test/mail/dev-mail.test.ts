import assert from 'node:assert/strict';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { DEFAULT_TIME_ZONE } from '../../src/config.js';
import { createI18n, type Language } from '../../src/i18n/index.js';
import { createMailRenderer } from '../../src/mail/render.js';
import { createTransport } from '../../src/mail/transport.js';
import { useReaderTimeZone } from '../../src/web/middleware/locals.js';
import { DEV_MAIL_PAGE_SIZE, devMailRoutes, linkify } from '../../src/web/routes/dev-mail.js';
import { useViews } from '../../src/web/views.js';
import { payload, PUBLIC_URL, TOKEN } from './mail-helpers.js';

const i18n = createI18n();

/** Just enough of src/web/app.ts for the views: the locals the layout reads, and a 404 handler. */
function devApp(mailDir: string, language: Language = 'en'): Express {
  const app = express();
  useViews(app, { cache: false });
  app.use((req, res, next) => {
    req.language = language;
    req.t = i18n.getFixedT(language);
    res.locals.t = req.t;
    res.locals.language = language;
    res.locals.htmlLang = language;
    res.locals.csrfToken = () => 'test-csrf-token';
    res.locals.flash = [];
    res.locals.currentPath = req.path;
    useReaderTimeZone(res, null, 'Europe/Lisbon');
    next();
  });
  app.use(devMailRoutes({ mailDir }));
  const errors: ErrorRequestHandler = (error: { status?: number }, _req, res, _next) => {
    res.status(error.status ?? 500).type('text/plain').send(String(error.status ?? 500));
  };
  app.use((_req, res) => res.status(404).type('text/plain').send('404'));
  app.use(errors);
  return app;
}

describe('mail: development mailbox', () => {
  let root: string;
  let mailDir: string;
  let clock: number;
  const renderer = createMailRenderer({ i18n, publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'contact-consent-devmail-'));
    mailDir = path.join(root, 'mail');
    clock = 1_790_000_000_000;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function write(outboxId: number, subject: string, address = `user${outboxId}@example.test`, text = 'Hello') {
    const transport = createTransport({ smtpUrl: undefined, mailDir, mailFrom: 'contacts@contacts.example.com', publicUrl: PUBLIC_URL }, { now: () => clock });
    await transport.send({ outboxId, to: { name: `User ${outboxId}`, address }, subject, text, html: '<p>x</p>' });
    clock += 1_000;
  }

  it('shows an empty mailbox when nothing was written yet', async () => {
    const response = await supertest(devApp(mailDir)).get('/dev/mail').expect(200);
    assert.match(response.text, /<h1>Development mailbox<\/h1>/);
    assert.match(response.text, /No mail yet/);
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('lists mail newest first with date, recipient and subject, escaped', async () => {
    await write(1, 'First mail');
    await write(2, '<script>alert(1)</script> second');
    await write(3, 'Third mail');
    // Files the listing must ignore: temporary files and anything not shaped like ours.
    writeFileSync(path.join(mailDir, '.1790000000000-9.eml.123.tmp'), 'partial');
    writeFileSync(path.join(mailDir, 'notes.txt'), 'x');
    const response = await supertest(devApp(mailDir)).get('/dev/mail').expect(200);
    const order = ['Third mail', 'second', 'First mail'].map((subject) => response.text.indexOf(subject));
    assert.ok(order.every((index) => index > 0));
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'newest first');
    assert.doesNotMatch(response.text, /<script>alert/);
    assert.match(response.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt; second/);
    assert.match(response.text, /href="\/dev\/mail\/1790000002000-3\.eml"/);
    assert.match(response.text, /user3@example\.test/);
    assert.match(response.text, /3 messages/);
    assert.doesNotMatch(response.text, /notes\.txt|\.tmp/);
    // Dates in the reader's language and the default zone, as <time> elements the browser may show in its own zone.
    assert.match(response.text, /<time datetime="2026-09-21T14:13:22\.000Z" data-local="en-GB">21 Sept? 2026, 15:13 WEST<\/time>/);
  });

  it('shows one mail with its headers and clickable links in the text part', async () => {
    const mail = renderer.render({
      kind: 'request.confirm',
      locale: 'en',
      payload: JSON.stringify(payload({ token: TOKEN })),
      recipient_name: 'Beatriz Borges',
      recipient_address: 'bb@example.test',
    });
    await write(5, mail.subject, 'bb@example.test', mail.text);
    const [file] = readdirSync(mailDir);
    const response = await supertest(devApp(mailDir)).get(`/dev/mail/${file}`).expect(200);
    const link = `${PUBLIC_URL}/requests/42/confirm?token=${TOKEN}`;
    assert.match(response.text, new RegExp(`<a href="${link.replace(/[.?]/g, '\\$&')}">${link.replace(/[.?]/g, '\\$&')}</a>`));
    assert.match(response.text, /&lt;outbox-5@contacts\.example\.com&gt;/);
    assert.match(response.text, /Your consent is needed: change of contacts for example\.pt/);
    assert.match(response.text, /bb@example\.test/);
    assert.match(response.text, /Hello Beatriz Borges,/);
    assert.match(response.text, new RegExp(`Your confirmation code: ${TOKEN}`));
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('answers 404 for anything that is not a listed mail file', async () => {
    await write(1, 'First mail');
    writeFileSync(path.join(root, 'secret.eml'), 'Subject: secret\r\n\r\nsecret');
    const agent = supertest(devApp(mailDir));
    for (const target of [
      '/dev/mail/1790000000000-2.eml',
      '/dev/mail/..%2Fsecret.eml',
      '/dev/mail/..%2F..%2F..%2Fetc%2Fpasswd',
      '/dev/mail/%2E%2E',
      '/dev/mail/1790000000000-1.eml%00',
      '/dev/mail/1790000000000-1.EML',
      '/dev/mail/.1790000000000-1.eml',
    ]) {
      const response = await agent.get(target);
      assert.equal(response.status, 404, target);
      assert.doesNotMatch(response.text, /secret/);
    }
    await agent.get('/dev/mail/1790000000000-1.eml').expect(200);
  });

  it(`pages by ${DEV_MAIL_PAGE_SIZE}`, async () => {
    for (let id = 1; id <= DEV_MAIL_PAGE_SIZE + 2; id++) await write(id, `Mail number ${id}.`);
    const agent = supertest(devApp(mailDir));
    const first = await agent.get('/dev/mail').expect(200);
    assert.match(first.text, /Mail number 52\./);
    assert.match(first.text, /Mail number 3\./);
    assert.doesNotMatch(first.text, /Mail number 2\./);
    assert.match(first.text, /href="\/dev\/mail\?page=2" rel="next"/);
    const second = await agent.get('/dev/mail?page=2').expect(200);
    assert.match(second.text, /Mail number 2\./);
    assert.match(second.text, /Mail number 1\./);
    assert.doesNotMatch(second.text, /Mail number 3\./);
    const beyond = await agent.get('/dev/mail?page=99').expect(200);
    assert.match(beyond.text, /Mail number 1\./, 'a page past the end shows the last page');
    await agent.get('/dev/mail?page=abc').expect(200);
  });

  it('speaks Portuguese to Portuguese readers', async () => {
    await write(1, 'Olá');
    const response = await supertest(devApp(mailDir, 'pt-PT')).get('/dev/mail').expect(200);
    assert.match(response.text, /<html lang="pt-PT">/);
    assert.match(response.text, /Caixa de correio de desenvolvimento/);
    assert.match(response.text, /1 mensagem/);
  });

  it('linkifies only http(s) URLs and leaves trailing punctuation out', () => {
    assert.deepEqual(linkify('See https://a.test/x?token=1. Or javascript:alert(1)'), [
      { text: 'See ' },
      { text: 'https://a.test/x?token=1', href: 'https://a.test/x?token=1' },
      { text: '. Or javascript:alert(1)' },
    ]);
  });
});
