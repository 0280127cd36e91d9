import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config', () => {
  const varDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-config-'));
  const base = { VAR_DIR: varDir };

  it('has working defaults for a fresh checkout, frozen', () => {
    const config = loadConfig(base);
    assert.equal(config.port, 3000);
    assert.equal(config.publicUrl, 'http://localhost:3000');
    assert.equal(config.databaseClient, 'sqlite3');
    assert.equal(config.databaseUrl, `sqlite:${path.join(varDir, 'data.sqlite3')}`);
    assert.equal(config.mailDir, path.join(varDir, 'mail'));
    assert.equal(config.handleSuffix, 'ovh');
    assert.equal(config.requestTtlMs, 7 * 24 * 3600_000);
    assert.equal(config.expireEveryMs, 60_000);
    assert.equal(config.smtpUrl, undefined);
    assert.equal(config.defaultTimeZone, 'Europe/Lisbon');
    assert.equal(config.sqliteReadConnections, 2);
    assert.ok(config.sessionSecret.length >= 32);
    assert.equal(loadConfig(base).sessionSecret, config.sessionSecret, 'the development secret is kept under var/');
    assert.ok(Object.isFrozen(config));
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...base,
      PORT: '8080',
      PUBLIC_URL: 'https://contacts.example.com/',
      DATABASE_URL: 'postgres://u@db/contacts',
      SESSION_SECRET: 's'.repeat(40),
      SMTP_URL: 'smtp://mail.example.com:587',
      MONGODB_URL: 'mongodb://mongo/agenda',
      HANDLE_SUFFIX: 'EU',
      REQUEST_TTL: '3 days',
      EXPIRE_EVERY: '90 seconds',
      TRUST_PROXY: '2',
      DEFAULT_TIME_ZONE: 'Asia/Tokyo',
      SQLITE_READ_CONNECTIONS: '0',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.publicUrl, 'https://contacts.example.com');
    assert.equal(config.databaseClient, 'pg');
    assert.equal(config.handleSuffix, 'eu');
    assert.equal(config.requestTtlMs, 3 * 24 * 3600_000);
    assert.equal(config.expireEveryMs, 90_000);
    assert.equal(config.trustProxy, 2);
    assert.equal(config.mongodbUrl, 'mongodb://mongo/agenda');
    assert.equal(config.defaultTimeZone, 'Asia/Tokyo');
    assert.equal(config.sqliteReadConnections, 0);
  });

  it('takes any zone Intl knows as DEFAULT_TIME_ZONE, also aliases missing from its list, by their canonical name', () => {
    assert.equal(loadConfig({ ...base, DEFAULT_TIME_ZONE: 'UTC' }).defaultTimeZone, 'UTC');
    assert.equal(loadConfig({ ...base, DEFAULT_TIME_ZONE: 'america/new_york' }).defaultTimeZone, 'America/New_York');
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT="eighty" must be a whole number/],
    [{ PORT: '70000' }, /PORT="70000"/],
    [{ REQUEST_TTL: 'soon' }, /REQUEST_TTL="soon" is not a duration/],
    [{ EXPIRE_EVERY: '-5 seconds' }, /EXPIRE_EVERY="-5 seconds" is not a duration/],
    // A bare number would be milliseconds to `ms`: 7 ms to live, a dispatcher polling every 1 ms.
    [{ REQUEST_TTL: '7' }, /REQUEST_TTL="7" is not a duration; use a number with a unit/],
    [{ DISPATCH_EVERY: '1ms' }, /DISPATCH_EVERY="1ms" is too short; use at least 100 ms/],
    [{ REQUEST_TTL: '30 seconds' }, /REQUEST_TTL="30 seconds" is too short; use at least 1 minute/],
    [{ PUBLIC_URL: 'https://contacts.example.com/?a=1' }, /PUBLIC_URL=".*" must be the site's address only/],
    [{ PUBLIC_URL: 'https://contacts.example.com/#top' }, /must be the site's address only/],
    [{ PUBLIC_URL: 'https://contacts.example.com/?' }, /must be the site's address only/],
    [{ PUBLIC_URL: 'https://user:secret@contacts.example.com' }, /^PUBLIC_URL="https:\/\/…@contacts\.example\.com" must be the site's address only/],
    [{ MAIL_FROM: 'Contacts' }, /MAIL_FROM="Contacts" is not an address/],
    [{ MAIL_FROM: 'Contacts <contacts@>' }, /MAIL_FROM=".*" is not an address/],
    [{ MAIL_FROM: 'contacts@exa mple.com' }, /is not an address/],
    [{ DATABASE_URL: 'mysql://x/y' }, /DATABASE_URL="mysql:\/\/x\/y" is not supported/],
    [{ PUBLIC_URL: 'ftp://x' }, /PUBLIC_URL="ftp:\/\/x" must start with http:\/\/ or https:\/\//],
    [{ SMTP_URL: 'not a url' }, /SMTP_URL="not a url" is not a URL/],
    // The URL standard sees host 127.0.0.1 here, nodemailer's parser mail.example.com.
    [{ SMTP_URL: 'smtp://mail.example.com\\@127.0.0.1:25' }, /^SMTP_URL must not contain a backslash/],
    [{ HANDLE_SUFFIX: 'o-v-h' }, /HANDLE_SUFFIX="o-v-h" must be 1 to 16 letters/],
    [{ SESSION_SECRET: 'short' }, /SESSION_SECRET must be at least 32 characters/],
    [{ NODE_ENV: 'production' }, /SESSION_SECRET is required when NODE_ENV=production/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV="staging"/],
    [{ TRUST_PROXY: 'true' }, /TRUST_PROXY="true" must be a whole number/],
    [{ SQLITE_READ_CONNECTIONS: '3' }, /SQLITE_READ_CONNECTIONS="3"/],
    [{ SQLITE_READ_CONNECTIONS: 'two' }, /SQLITE_READ_CONNECTIONS="two" must be a whole number/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL="loud"/],
    [{ DEFAULT_TIME_ZONE: 'Mars/Olympus_Mons' }, /DEFAULT_TIME_ZONE="Mars\/Olympus_Mons" is not a time zone Node.js knows; use an IANA name such as "Europe\/Lisbon"/],
    [{ DEFAULT_TIME_ZONE: '+01:00' }, /DEFAULT_TIME_ZONE="\+01:00" is not a time zone/],
    [{ DEFAULT_TIME_ZONE: 'Lisbon' }, /DEFAULT_TIME_ZONE="Lisbon" is not a time zone/],
  ];
  it('keeps passwords out of its messages', () => {
    for (const env of [
      { SMTP_URL: 'smtp+tls://user:s3cret@mail.example.com' },
      { SMTP_URL: 'smtp+tls://user:pa@s3cret@mail.example.com' },
      { SMTP_URL: 'smtp://user:pa/s3cret@mail.example.com' },
      { DATABASE_URL: 'mysql://root:s3cret@db/contacts' },
      { MONGODB_URL: 'redis://u:s3cret@x' },
    ]) {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (error: unknown) => error instanceof ConfigError && !error.message.includes('s3cret') && error.message.includes('//…@'),
      );
    }
  });

  it('takes MAIL_FROM bare or with a name, and builds its default from PUBLIC_URL, an IP address as a literal', () => {
    assert.equal(loadConfig({ ...base, MAIL_FROM: 'Contacts <contacts@example.com>' }).mailFrom, 'Contacts <contacts@example.com>');
    assert.equal(loadConfig({ ...base, MAIL_FROM: 'contacts@[192.0.2.1]' }).mailFrom, 'contacts@[192.0.2.1]');
    assert.equal(loadConfig({ ...base, PUBLIC_URL: 'https://contacts.example.com/base/' }).mailFrom, 'contacts@contacts.example.com');
    assert.equal(loadConfig({ ...base, PUBLIC_URL: 'http://192.168.1.10:3000' }).mailFrom, 'contacts@[192.168.1.10]');
    assert.equal(loadConfig({ ...base, PUBLIC_URL: 'http://[2001:db8::1]:3000' }).mailFrom, 'contacts@[IPv6:2001:db8::1]');
    assert.equal(loadConfig({ ...base, PUBLIC_URL: 'http://contacts_web:3000' }).mailFrom, 'contacts@contacts_web');
    assert.equal(loadConfig({ ...base, PUBLIC_URL: 'https://contacts.example.com./' }).mailFrom, 'contacts@contacts.example.com');
    for (const mailFrom of ['contactos@câmara.pt', 'contacts@[IPv6:2001:db8::1]', 'Contacts <contacts@mail_relay>']) {
      assert.equal(loadConfig({ ...base, MAIL_FROM: mailFrom }).mailFrom, mailFrom);
    }
    assert.equal(loadConfig({ ...base, DISPATCH_EVERY: '100ms' }).dispatchEveryMs, 100);
  });

  for (const [env, message] of bad) {
    it(`refuses ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} with a clear message`, () => {
      assert.throws(() => loadConfig({ ...base, ...env }), (error: unknown) => error instanceof ConfigError && message.test(error.message));
    });
  }

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ ...base, PORT: '', DATABASE_URL: '' }).port, 3000);
  });
});
