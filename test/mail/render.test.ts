import assert from 'node:assert/strict';
import { DEFAULT_TIME_ZONE } from '../../src/config.js';
import { REQUEST_MAIL_KINDS, type MailKind } from '../../src/domain/outbox.js';
import { createI18n, loadCatalogue } from '../../src/i18n/index.js';
import { createMailRenderer, MailRenderError, maskedEmail, type RenderableMail } from '../../src/mail/render.js';
import { payload, PUBLIC_URL, TOKEN } from './mail-helpers.js';

const renderer = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });
const confirmLink = `${PUBLIC_URL}/requests/42/confirm?token=${TOKEN}`;

function row(kind: MailKind | string, locale: 'en' | 'pt', overrides: Parameters<typeof payload>[0] = {}): RenderableMail {
  const withToken = kind === 'request.confirm' || kind === 'request.reminder' ? { token: TOKEN } : {};
  return {
    kind,
    locale,
    payload: JSON.stringify(payload({ ...withToken, actorHandle: 'cc333333-ovh', failureReason: 'contactsChanged', ...overrides })),
    recipient_name: 'Beatriz Borges',
    recipient_address: 'bb@example.test',
  };
}

const textLinks = (text: string) => text.match(/https?:\/\/\S+/g) ?? [];
const htmlLinks = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);

function keysOf(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => keysOf(child, prefix ? `${prefix}.${key}` : key));
}

describe('mail: renderer', () => {
  for (const kind of REQUEST_MAIL_KINDS) {
    for (const locale of ['en', 'pt'] as const) {
      it(`renders ${kind} in ${locale}`, () => {
        const mail = renderer.render(row(kind, locale));
        assert.ok(mail.subject.length > 0 && mail.text.length > 0 && mail.html.length > 0);
        assert.doesNotMatch(mail.subject, /[\r\n]/);
        for (const part of [mail.subject, mail.text, mail.html]) {
          // A missing translation shows up as its key.
          assert.doesNotMatch(part, /\bmail\.[a-z]+\.|\{\{|undefined|null/, `untranslated or empty value in ${kind}/${locale}`);
          assert.match(part, /example\.pt/);
        }
        assert.match(mail.html, new RegExp(`<html lang="${locale === 'pt' ? 'pt-PT' : 'en'}">`));
        assert.match(mail.text, /Beatriz Borges/);
        // Exactly one link, always built from PUBLIC_URL.
        assert.equal(textLinks(mail.text).length, 1);
        assert.equal(htmlLinks(mail.html).length, 1);
        assert.ok(htmlLinks(mail.html)[0]?.startsWith(PUBLIC_URL + '/requests'));
      });
    }
  }

  for (const kind of ['request.confirm', 'request.reminder'] as const) {
    it(`${kind}: one link of the exact form, and the token printed for typing in`, () => {
      for (const locale of ['en', 'pt'] as const) {
        const mail = renderer.render(row(kind, locale));
        assert.deepEqual(textLinks(mail.text), [confirmLink]);
        assert.deepEqual(htmlLinks(mail.html), [confirmLink]);
        // The token on a line of its own (besides the link), in both parts.
        assert.match(mail.text, new RegExp(`: ${TOKEN}\\n`));
        assert.match(mail.html, new RegExp(`>${TOKEN}</p>`));
        assert.match(mail.text, /bb222222-ovh/, 'names the account to log in as');
      }
      const en = renderer.render(row(kind, 'en'));
      assert.match(en.text, /logged in as bb222222-ovh/);
      assert.match(en.text, /“My requests”/);
    });
  }

  it('request.reminder says the request expires soon; request.inform links to /requests', () => {
    assert.match(renderer.render(row('request.reminder', 'en')).subject, /expires soon/);
    assert.match(renderer.render(row('request.reminder', 'pt')).subject, /expira em breve/);
    const inform = renderer.render(row('request.inform', 'en'));
    assert.deepEqual(textLinks(inform.text), [`${PUBLIC_URL}/requests`]);
    assert.doesNotMatch(inform.text, new RegExp(TOKEN));
  });

  it('writes complete European Portuguese', () => {
    const mail = renderer.render(row('request.confirm', 'pt'));
    assert.match(mail.subject, /pedido de alteração de contactos/);
    assert.match(mail.text, /Olá Beatriz Borges,/);
    assert.match(mail.html, /Confirmar ou recusar/);
    assert.match(mail.text, /Técnico e Faturação/);
    assert.match(mail.text, /1 de julho de 2026/);
    const en = loadCatalogue('en') as Record<string, unknown>;
    const pt = loadCatalogue('pt-PT') as Record<string, unknown>;
    assert.deepEqual(keysOf(pt.mail).sort(), keysOf(en.mail).sort(), 'same mail keys in both languages');
    assert.deepEqual(keysOf(pt.devMail).sort(), keysOf(en.devMail).sort(), 'same devMail keys in both languages');
  });

  it('shows dates in the default zone, Lisbon unless configured, and names the zone (summer and winter)', () => {
    const summer = renderer.render(row('request.confirm', 'en', { expiresAt: Date.UTC(2026, 6, 1, 12, 0) }));
    assert.match(summer.text, /1 July 2026 at 13:00 \(Western European Time\)/);
    const winter = renderer.render(row('request.confirm', 'pt', { expiresAt: Date.UTC(2026, 0, 15, 12, 0) }));
    assert.match(winter.text, /15 de janeiro de 2026.*12:00 \(Hora da Europa Ocidental\)/);
    const newYork = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: 'America/New_York' });
    assert.match(newYork.render(row('request.confirm', 'en', { expiresAt: Date.UTC(2026, 6, 1, 12, 0) })).text, /1 July 2026 at 08:00 \(Eastern Time\)/);
  });

  it('shows dates in the zone the recipient chose, stored with the mail', () => {
    const tokyo = { ...row('request.confirm', 'en', { expiresAt: Date.UTC(2026, 6, 1, 12, 0) }), time_zone: 'Asia/Tokyo' };
    const mail = renderer.render(tokyo);
    assert.match(mail.text, /Expires: 1 July 2026 at 21:00 \(Japan Standard Time\)/);
    assert.match(mail.html, /1 July 2026 at 21:00 \(Japan Standard Time\)/);
    assert.match(renderer.render({ ...tokyo, locale: 'pt' }).text, /1 de julho de 2026.*21:00 \(Hora padrão do Japão\)/);
    // A zone Intl has no generic name for is named by its IANA name; an unknown one falls back to the default.
    assert.match(renderer.render({ ...tokyo, time_zone: 'UTC' }).text, /1 July 2026 at 12:00 \(UTC\)/);
    assert.match(renderer.render({ ...tokyo, time_zone: 'Mars/Olympus_Mons' }).text, /1 July 2026 at 13:00 \(Western European Time\)/);
    assert.match(renderer.render({ ...tokyo, time_zone: null }).text, /1 July 2026 at 13:00 \(Western European Time\)/);
  });

  it('names who refused or cancelled, and translates why a request failed', () => {
    assert.match(renderer.render(row('request.refused', 'en', { actorHandle: 'dd444444-ovh' })).text, /dd444444-ovh refused/);
    assert.match(renderer.render(row('request.cancelled', 'pt', { actorHandle: 'dd444444-ovh' })).text, /dd444444-ovh cancelou/);
    assert.match(renderer.render(row('request.failed', 'en', { failureReason: 'billingOverdue' })).text, /payments of an account involved are not up to date/);
    assert.match(renderer.render(row('request.failed', 'pt', { failureReason: 'contactsChanged' })).text, /contactos do serviço foram entretanto alterados/);
    assert.match(renderer.render(row('request.failed', 'en', { failureReason: 'somethingNew' })).text, /an unexpected problem/);
    assert.match(renderer.render(row('request.failed', 'en', { failureReason: '../../app.name' })).text, /an unexpected problem/);
  });

  it('escapes HTML in the HTML part and keeps the text part literal', () => {
    const evil = '<script>alert("x")</script>&co';
    const mail = renderer.render(row('request.confirm', 'en', { serviceName: evil }));
    assert.doesNotMatch(mail.html, /<script>/);
    assert.match(mail.html, /&lt;script&gt;alert\(&#34;x&#34;\)&lt;\/script&gt;&amp;co/);
    assert.ok(mail.text.includes(evil));
    assert.ok(mail.subject.includes(evil));
    const named = renderer.render({ ...row('request.done', 'en'), recipient_name: '<b>Bob</b>' });
    assert.match(named.html, /Hello &lt;b&gt;Bob&lt;\/b&gt;,/);
  });

  it('builds links from PUBLIC_URL only, whatever the payload says', () => {
    const slash = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL + '/', defaultTimeZone: DEFAULT_TIME_ZONE });
    assert.deepEqual(textLinks(slash.render(row('request.confirm', 'en')).text), [confirmLink]);
    const mail = renderer.render(row('request.done', 'en', { serviceName: 'evil.example/requests' }));
    assert.deepEqual(htmlLinks(mail.html), [`${PUBLIC_URL}/requests`]);
  });

  it('refuses rows it cannot render faithfully', () => {
    assert.throws(() => renderer.render(row('request.unknown', 'en')), MailRenderError);
    assert.throws(() => renderer.render({ ...row('request.confirm', 'en'), payload: JSON.stringify(payload()) }), MailRenderError, 'confirm without token');
    assert.throws(() => renderer.render({ ...row('request.done', 'en'), payload: '{not json' }), MailRenderError);
    assert.throws(() => renderer.render(row('request.done', 'en', { serviceName: 'a\r\nBcc: x@y' })), MailRenderError);
    assert.throws(() => renderer.render(row('request.confirm', 'en', { token: 'has space and ?&=' })), MailRenderError);
  });

  describe('account.emailChanged (to the address an account had before)', () => {
    const changedAt = Date.UTC(2026, 6, 1, 12, 0);
    function emailChanged(locale: 'en' | 'pt', payloadOverrides: Record<string, unknown> = {}): RenderableMail {
      return {
        kind: 'account.emailChanged',
        locale,
        time_zone: null,
        payload: JSON.stringify({ handle: 'bb222222-ovh', newEmail: 'new@example.org', changedAt, ...payloadOverrides }),
        recipient_name: 'Beatriz Borges',
        recipient_address: 'bb@example.test',
      };
    }

    it('says which account, from which address to which, and when; one link, to the profile; no code', () => {
      const mail = renderer.render(emailChanged('en'));
      assert.equal(mail.subject, 'The e-mail address of your account bb222222-ovh was changed');
      for (const part of [mail.text, mail.html]) {
        assert.doesNotMatch(part, /\bmail\.[a-z]+\.|\{\{|undefined|null/);
        assert.match(part, /Hello Beatriz Borges,/);
        assert.match(part, /Mail for this account now goes to n•••@example\.org\./);
        assert.doesNotMatch(part, /new@example\.org/, 'the whole new address is not shown to the old mailbox');
        assert.match(part, /bb@example\.test/, 'the previous address');
        assert.match(part, /1 July 2026 at 13:00 \(Western European Time\)/);
        assert.match(part, /If you did not make this change, someone who knows your password did\./);
      }
      assert.match(mail.text, /- Previous address: bb@example\.test\n- New address: n•••@example\.org\n/);
      assert.deepEqual(textLinks(mail.text), [`${PUBLIC_URL}/profile`]);
      assert.deepEqual(htmlLinks(mail.html), [`${PUBLIC_URL}/profile`]);
      assert.doesNotMatch(mail.text, /code/i);
    });

    it('in European Portuguese, in the zone the recipient chose', () => {
      const mail = renderer.render({ ...emailChanged('pt'), time_zone: 'Asia/Tokyo' });
      assert.equal(mail.subject, 'O endereço de e-mail da sua conta bb222222-ovh foi alterado');
      assert.match(mail.text, /O correio desta conta passa a ser enviado para n•••@example\.org\./);
      assert.match(mail.text, /1 de julho de 2026.*21:00 \(Hora padrão do Japão\)/);
      assert.match(mail.html, /<html lang="pt-PT">/);
      assert.match(mail.html, /Abrir o perfil/);
    });

    it('masks the new address whatever its shape, escapes it in HTML, and refuses a payload it cannot trust', () => {
      assert.equal(maskedEmail('ana.antunes@example.org'), 'a•••@example.org');
      assert.equal(maskedEmail('"a@b"@example.org'), '"•••@example.org');
      assert.equal(maskedEmail('érica@exemplo.pt'), 'é•••@exemplo.pt');
      assert.equal(maskedEmail('😀x@example.org'), '😀•••@example.org');
      const mail = renderer.render(emailChanged('en', { newEmail: '<b>x@example.org' }));
      assert.doesNotMatch(mail.html, /<•••/);
      assert.match(mail.html, /&lt;•••@example\.org/);
      assert.ok(mail.text.includes('<•••@example.org'));
      assert.throws(() => renderer.render(emailChanged('en', { newEmail: 'a@b.c\r\nBcc: x@y' })), MailRenderError);
      assert.throws(() => renderer.render(emailChanged('en', { changedAt: 'yesterday' })), MailRenderError);
      assert.throws(() => renderer.render(emailChanged('en', { handle: undefined })), MailRenderError);
      // A request's payload under this kind is not rendered as something else.
      assert.throws(() => renderer.render({ ...emailChanged('en'), payload: JSON.stringify(payload()) }), MailRenderError);
    });
  });
});
