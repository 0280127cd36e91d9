import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_TIME_ZONE } from '../../src/config.js';
import { createI18n } from '../../src/i18n/index.js';
import { createDispatcher } from '../../src/mail/dispatcher.js';
import { createMailRenderer } from '../../src/mail/render.js';
import { checkAddress, createTransport, isPermanentFailure, MAIL_FILE_PATTERN, messageIdFor, PermanentMailError } from '../../src/mail/transport.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { insertMail, outboxRows, PUBLIC_URL, silentLogger, TOKEN } from './mail-helpers.js';

describe('mail: file transport', () => {
  let mailDir: string;
  beforeEach(() => {
    mailDir = path.join(mkdtempSync(path.join(tmpdir(), 'contact-consent-mail-')), 'not-yet-created');
  });
  afterEach(() => rmSync(path.dirname(mailDir), { recursive: true, force: true }));

  const config = () => ({ smtpUrl: undefined, mailDir, mailFrom: 'contacts@contacts.example.com', publicUrl: PUBLIC_URL });

  it('writes each mail as a parseable RFC 822 file named by time and outbox id', async () => {
    let clock = 1_790_000_000_000;
    const transport = createTransport(config(), { now: () => clock });
    assert.equal(transport.kind, 'file');
    await transport.send({ outboxId: 7, to: { name: 'José Ção', address: 'jose@example.test' }, subject: 'Olá — teste', text: 'Linha 1\nhttps://x.test/a', html: '<p>Olá</p>' });
    clock += 5;
    await transport.send({ outboxId: 12, to: { name: '', address: 'ana@example.test' }, subject: 'Second', text: 'two', html: '<p>two</p>' });

    const files = readdirSync(mailDir).sort();
    assert.deepEqual(files, ['1790000000000-7.eml', '1790000000005-12.eml']);
    assert.ok(files.every((file) => MAIL_FILE_PATTERN.test(file)), 'no temporary files left');
    const mail = await simpleParser(readFileSync(path.join(mailDir, files[0] ?? '')));
    assert.equal(mail.messageId, '<outbox-7@contacts.example.com>');
    assert.equal(mail.subject, 'Olá — teste');
    assert.deepEqual(Array.isArray(mail.to) ? undefined : mail.to?.value, [{ name: 'José Ção', address: 'jose@example.test' }]);
    assert.equal(Array.isArray(mail.from) ? undefined : mail.from?.text, 'contacts@contacts.example.com');
    assert.equal(mail.text?.trim(), 'Linha 1\nhttps://x.test/a');
    assert.equal(mail.html, '<p>Olá</p>');
    assert.equal(mail.date?.getTime(), 1_790_000_000_000);
  });

  it('is what the dispatcher uses without SMTP_URL', async () => {
    const db = await createTestDatabase();
    try {
      const [id] = await insertMail(db.knex, [{ kind: 'request.confirm' }]);
      const dispatcher = createDispatcher({
        knex: db.knex,
        transport: createTransport(config()),
        renderer: createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE }),
        logger: silentLogger,
        workerId: 'file-worker',
      });
      assert.deepEqual(await dispatcher.dispatchOnce(), { sent: 1, retried: 0, dead: 0, voided: 0 });
      const [file] = readdirSync(mailDir);
      assert.match(file ?? '', new RegExp(`^\\d{13}-${id}\\.eml$`));
      const mail = await simpleParser(readFileSync(path.join(mailDir, file ?? '')));
      assert.equal(mail.messageId, messageIdFor(id ?? 0, PUBLIC_URL));
      assert.ok(mail.text?.includes(`${PUBLIC_URL}/requests/42/confirm?token=${TOKEN}`));
      assert.equal((await outboxRows(db.knex))[0]?.status, 'sent');
    } finally {
      await db.destroy();
    }
  });

  it('refuses line breaks and NUL in addresses as a permanent failure', async () => {
    const transport = createTransport(config());
    for (const to of [
      { name: 'A', address: 'a@example.test\r\nBcc: b@example.test' },
      { name: 'A\nBcc: b@example.test', address: 'a@example.test' },
      { name: 'A\0', address: 'a@example.test' },
      { name: 'A', address: 'not an address' },
    ]) {
      await assert.rejects(transport.send({ outboxId: 1, to, subject: 's', text: 't', html: 'h' }), (error: unknown) => error instanceof PermanentMailError && isPermanentFailure(error));
    }
    assert.deepEqual(checkAddress({ name: ' Ana ', address: 'ana@example.test' }), { name: 'Ana', address: 'ana@example.test' });
  });

  it('classifies an SMTP 5xx refusing the recipient or the content as permanent and everything else as worth retrying', () => {
    const smtpError = (responseCode: number, command: string) => Object.assign(new Error('x'), { responseCode, command, permanent: responseCode >= 500 });
    assert.equal(isPermanentFailure(smtpError(550, 'RCPT TO')), true);
    assert.equal(isPermanentFailure(smtpError(554, 'DATA')), true);
    assert.equal(isPermanentFailure(smtpError(450, 'RCPT TO')), false);
    assert.equal(isPermanentFailure(smtpError(503, 'DATA')), false, 'out of sequence: the session, not the mail');
    assert.equal(isPermanentFailure(smtpError(421, 'CONN')), false);
    // Nothing to do with this mail: SMTP_URL's password, MAIL_FROM, a server refusing everyone.
    assert.equal(isPermanentFailure(smtpError(535, 'AUTH PLAIN')), false);
    assert.equal(isPermanentFailure(smtpError(550, 'MAIL FROM')), false);
    assert.equal(isPermanentFailure(smtpError(554, 'CONN')), false);
    assert.equal(isPermanentFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isPermanentFailure('string'), false);
  });

  it('derives a stable Message-ID from the outbox id and the PUBLIC_URL host', () => {
    assert.equal(messageIdFor(42, 'https://contacts.example.com:8443/base'), '<outbox-42@contacts.example.com>');
  });
});
