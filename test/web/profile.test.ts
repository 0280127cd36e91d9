// The profile's time-zone form, and dates on the pages: in the account's zone when it chose one,
// else in DEFAULT_TIME_ZONE marked for the browser to show in its own zone.
import assert from 'node:assert/strict';
import type { Account } from '../../src/domain/accounts.js';
import { addAccount, createTestApp, loginAgent, type TestApp } from '../helpers/test-app.js';

const OPTIONS: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };
const format = (locale: string, timeZone: string, epochMs: number) => new Intl.DateTimeFormat(locale, { ...OPTIONS, timeZone }).format(new Date(epochMs));

/** Every <time> element of a page: its attributes and text. */
function timesOf(html: string): { datetime: string; local: string | null; text: string }[] {
  return [...html.matchAll(/<time datetime="([^"]+)"(?: data-local="([^"]+)")?>([^<]*)<\/time>/g)].map((match) => ({
    datetime: match[1] as string,
    local: match[2] ?? null,
    text: match[3] as string,
  }));
}

describe('web: time zone', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function zoneOf(account: Account): Promise<string | null> {
    const row = (await t.db.knex('accounts').where({ id: account.id }).first('time_zone')) as { time_zone: string | null };
    return row.time_zone;
  }

  async function auditCount(account: Account): Promise<number> {
    const row = (await t.db.knex('audit_log').where({ account_id: account.id, action: 'profile.timeZone' }).count({ n: '*' }).first()) as { n: number | string };
    return Number(row.n);
  }

  /** A pending request made by a new administrator, and the administrator. */
  async function pendingRequest() {
    const [admin, tech, newcomer] = [await addAccount(t.domain), await addAccount(t.domain), await addAccount(t.domain)];
    const service = await t.domain.services.create({ name: `tz-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
    const [request] = await t.domain.requests.submit(admin.id, service.id, { tech: newcomer.handle }, { ip: null });
    assert.ok(request);
    return { admin, request };
  }

  it('shows the zone on the profile and a form to choose one; Automatic at first', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    const page = await agent.get('/profile').expect(200);
    assert.match(page.text, /<dt>Time zone<\/dt><dd>Automatic \(your browser&#39;s time zone; Europe\/Lisbon without JavaScript\)<\/dd>/);
    assert.match(page.text, /<form method="post" action="\/profile\/time-zone"[^>]*>\s*<input type="hidden" name="_csrf" value="[^"]+">/);
    assert.match(page.text, /<label for="field-timeZone">Time zone<\/label>/);
    assert.match(page.text, /<select id="field-timeZone" name="timeZone" aria-describedby="field-timeZone-hint">/);
    assert.match(page.text, /<option value="" selected>Automatic \(your browser&#39;s time zone; Europe\/Lisbon without JavaScript\)<\/option>/);
    const select = /<select id="field-timeZone"[\s\S]*?<\/select>/.exec(page.text)?.[0] ?? '';
    const options = [...select.matchAll(/<option value="([^"]*)"[^>]*>([^<]*)<\/option>/g)].map((match) => ({ value: match[1], label: match[2] as string }));
    assert.equal(options[0]?.value, '', 'Automatic first');
    assert.deepEqual(options.slice(1).map((option) => option.value).sort(), [...Intl.supportedValuesOf('timeZone')].sort(), 'then every zone Intl lists');
    const labels = options.slice(1).map((option) => option.label);
    assert.deepEqual(labels, [...labels].sort(), 'in the order of their labels');
    assert.match(page.text, /<option value="America\/Argentina\/La_Rioja">America\/Argentina\/La Rioja<\/option>/);
    // A zone Intl lists under a name IANA has replaced is shown under today's name, in its place.
    if (Intl.supportedValuesOf('timeZone').includes('Europe/Kiev')) {
      assert.match(page.text, /<option value="Europe\/Kiev">Europe\/Kyiv<\/option>/);
      assert.ok(labels.indexOf('Europe/Kyiv') > labels.indexOf('Europe/Kirov') && labels.indexOf('Europe/Kyiv') < labels.indexOf('Europe/Lisbon'));
    }
  });

  it('saves a zone: 303, flash, the summary names it, the select keeps it, audited; then back to Automatic', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    const saved = await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'Asia/Tokyo' }).expect(303);
    assert.equal(saved.headers.location, '/profile');
    assert.equal(await zoneOf(account), 'Asia/Tokyo');
    assert.equal(await auditCount(account), 1);
    const page = await agent.get('/profile').expect(200);
    assert.match(page.text, /notice--success[\s\S]*Time zone saved\./);
    assert.match(page.text, /<dt>Time zone<\/dt><dd>Asia\/Tokyo \(Japan Standard Time\)<\/dd>/);
    assert.match(page.text, /<option value="Asia\/Tokyo" selected>/);
    assert.doesNotMatch(page.text, /<option value="" selected>/);

    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: '' }).expect(303);
    assert.equal(await zoneOf(account), null);
    assert.match((await agent.get('/profile').expect(200)).text, /<option value="" selected>/);
  });

  it('keeps a zone Intl knows without listing it (UTC) selectable and selected', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'UTC' }).expect(303);
    const page = await agent.get('/profile').expect(200);
    assert.match(page.text, /<dd>UTC<\/dd>/);
    assert.match(page.text, /<option value="UTC" selected>UTC<\/option>/);
  });

  it('refuses a zone that is not one: 422, the message in the summary and at the field, nothing changed', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'Europe/Lisbon' }).expect(303);
    for (const timeZone of ['Mars/Olympus_Mons', '+01:00', '<script>x</script>']) {
      const page = await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone }).expect(422);
      assert.match(page.text, /class="error-summary"[\s\S]*<a href="#field-timeZone">Choose a time zone from the list\.<\/a>/);
      assert.match(page.text, /<p class="field-error" id="field-timeZone-error">Choose a time zone from the list\.<\/p>/);
      assert.match(page.text, /<select id="field-timeZone" name="timeZone" aria-describedby="field-timeZone-hint field-timeZone-error" aria-invalid="true">/);
      assert.doesNotMatch(page.text, /<script>x/);
    }
    assert.equal(await zoneOf(account), 'Europe/Lisbon');
    assert.equal(await auditCount(account), 1);
    // Too long, an unknown field, a repeated field: malformed forms.
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'x'.repeat(101) }).expect(400);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'UTC', extra: '1' }).expect(400);
    await agent.post('/profile/time-zone').type('form').send(`_csrf=${encodeURIComponent(csrf)}&timeZone=UTC&timeZone=Asia%2FTokyo`).expect(400);
    assert.equal(await zoneOf(account), 'Europe/Lisbon');
  });

  it('keeps the selection after an error in another field of the page', async () => {
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'Asia/Tokyo' }).expect(303);
    const page = await agent.post('/profile/email').type('form').send({ _csrf: csrf, email: 'new@example.test', password: 'wrong password here' }).expect(422);
    assert.match(page.text, /<option value="Asia\/Tokyo" selected>/);
  });

  it('a zone renamed by IANA: either name is saved as Intl knows it, shown and selected under today\'s name', async () => {
    // Node 20's Intl knows Kyiv as Europe/Kiev; a later runtime may list Europe/Kyiv itself.
    const stored = Intl.supportedValuesOf('timeZone').includes('Europe/Kiev') ? 'Europe/Kiev' : 'Europe/Kyiv';
    const account = await addAccount(t.domain);
    const { agent, csrf } = await loginAgent(t.app, account.handle);
    for (const name of ['Europe/Kyiv', 'Europe/Kiev']) {
      await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: name }).expect(303);
      assert.equal(await zoneOf(account), stored);
      const page = (await agent.get('/profile').expect(200)).text;
      assert.match(page, /<dt>Time zone<\/dt><dd>Europe\/Kyiv \(Eastern European( Standard| Summer)? Time\)<\/dd>/);
      assert.ok(page.includes(`<option value="${stored}" selected>Europe/Kyiv</option>`), 'selected under its current name');
    }
  });

  it('refuses a forged or missing CSRF token; nothing changed', async () => {
    const account = await addAccount(t.domain);
    const { agent } = await loginAgent(t.app, account.handle);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: 'forged-token', timeZone: 'Asia/Tokyo' }).expect(403);
    await agent.post('/profile/time-zone').type('form').send({ timeZone: 'Asia/Tokyo' }).expect(403);
    assert.equal(await zoneOf(account), null);
    assert.equal(await auditCount(account), 0);
  });

  it('dates on the pages: <time datetime>, in the account\'s zone when chosen, else the default marked data-local', async () => {
    const { admin, request } = await pendingRequest();
    const { agent, csrf } = await loginAgent(t.app, admin.handle);

    let list = timesOf((await agent.get('/requests').expect(200)).text);
    assert.deepEqual(list[0], { datetime: new Date(request.createdAt).toISOString(), local: 'en-GB', text: format('en-GB', 'Europe/Lisbon', request.createdAt) });
    assert.deepEqual(list[1], { datetime: new Date(request.expiresAt).toISOString(), local: 'en-GB', text: format('en-GB', 'Europe/Lisbon', request.expiresAt) });
    assert.match(list[0]?.text ?? '', / WES?T$/);

    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'Asia/Tokyo' }).expect(303);
    list = timesOf((await agent.get('/requests').expect(200)).text);
    assert.deepEqual(list[0], { datetime: new Date(request.createdAt).toISOString(), local: null, text: format('en-GB', 'Asia/Tokyo', request.createdAt) });
    assert.match(list[0]?.text ?? '', / GMT\+9$/);
    const detail = (await agent.get(`/requests/${request.id}`).expect(200)).text;
    const times = timesOf(detail);
    assert.ok(times.length >= 3, 'created, expires and the history');
    assert.ok(times.every((time) => time.local === null && time.text.endsWith('GMT+9')), JSON.stringify(times));
    assert.doesNotMatch(detail, /data-local/);

    // In Portuguese, the Portuguese format.
    await agent.post('/language').type('form').send({ _csrf: csrf, language: 'pt-PT', next: '/requests' }).expect(303);
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: '' }).expect(303);
    list = timesOf((await agent.get('/requests').expect(200)).text);
    assert.deepEqual(list[0], { datetime: new Date(request.createdAt).toISOString(), local: 'pt-PT', text: format('pt-PT', 'Europe/Lisbon', request.createdAt) });
  });

  it('the language switcher leads back to the page with its query, and from a form shown again after an error to that form', async () => {
    const [admin, tech] = [await addAccount(t.domain), await addAccount(t.domain)];
    const service = await t.domain.services.create({ name: `switch-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
    const { agent, csrf } = await loginAgent(t.app, admin.handle);
    const nextOf = (html: string) => /name="next" value="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    const cases: [Promise<{ text: string }>, string][] = [
      [agent.get('/contacts?q=switch&sort=type').expect(200), '/contacts?q=switch&sort=type'],
      [agent.post(`/services/${service.id}/contacts`).type('form').send({ _csrf: csrf, tech: 'not-a-handle' }).expect(422), `/services/${service.id}/contacts/edit`],
      [agent.post('/profile/email').type('form').send({ _csrf: csrf, email: 'not an address', password: 'x' }).expect(422), '/profile'],
    ];
    for (const [page, expected] of cases) {
      const next = nextOf((await page).text);
      assert.equal(next, expected);
      const switched = await agent.post('/language').type('form').send({ _csrf: csrf, language: 'en', next }).expect(303);
      assert.equal(switched.headers.location, expected);
      await agent.get(expected).expect(200);
    }
  });

  it('the flash after an edit gives the expiry as a <time> in the reader\'s zone, like the other dates', async () => {
    const [admin, tech, newcomer] = [await addAccount(t.domain), await addAccount(t.domain), await addAccount(t.domain)];
    const service = await t.domain.services.create({ name: `flash-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
    const { agent, csrf } = await loginAgent(t.app, admin.handle);
    const edit = async () => {
      // Any earlier flash is shown (and so taken) by this page first.
      await agent.get('/requests').expect(200);
      await agent.post(`/services/${service.id}/contacts`).type('form').send({ _csrf: csrf, tech: newcomer.handle }).expect(303);
      const page = (await agent.get('/contacts').expect(200)).text;
      const rows = (await t.db.knex('change_requests').where({ service_id: service.id, state: 'pending' }).select('id', 'expires_at')) as { id: number; expires_at: number }[];
      const expiresAt = Number(rows[0]?.expires_at);
      const flash = /<div class="notice notice--success">\s*<p>([\s\S]*?)<\/p>/.exec(page)?.[1] ?? '';
      // Withdrawn again so the next edit makes a new request.
      await agent.post(`/requests/${rows[0]?.id}/cancel`).type('form').send({ _csrf: csrf }).expect(303);
      return { flash, expiresAt };
    };

    let { flash, expiresAt } = await edit();
    const iso = new Date(expiresAt).toISOString();
    assert.equal(
      flash,
      `Your request was registered. The people concerned will receive an e-mail to confirm it; it expires on <time datetime="${iso}" data-local="en-GB">${format('en-GB', 'Europe/Lisbon', expiresAt)}</time>.`,
    );

    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'Asia/Tokyo' }).expect(303);
    await agent.post('/language').type('form').send({ _csrf: csrf, language: 'pt-PT', next: '/contacts' }).expect(303);
    ({ flash, expiresAt } = await edit());
    assert.equal(
      flash,
      `O seu pedido foi registado. As pessoas envolvidas vão receber um e-mail para o confirmar; expira em <time datetime="${new Date(expiresAt).toISOString()}">${format('pt-PT', 'Asia/Tokyo', expiresAt)}</time>.`,
    );
  });

  it('the state of a request (JSON for My requests) gives its decision date as the pages show it', async () => {
    const { admin, request } = await pendingRequest();
    const { agent, csrf } = await loginAgent(t.app, admin.handle);
    assert.deepEqual((await agent.get(`/requests/${request.id}/state`).expect(200)).body.decidedAt, null);
    await agent.post(`/requests/${request.id}/cancel`).type('form').send({ _csrf: csrf }).expect(303);
    const row = (await t.db.knex('change_requests').where({ id: request.id }).first('decided_at')) as { decided_at: number };
    const decidedAt = Number(row.decided_at);
    assert.deepEqual((await agent.get(`/requests/${request.id}/state`).expect(200)).body.decidedAt, {
      datetime: new Date(decidedAt).toISOString(),
      text: format('en-GB', 'Europe/Lisbon', decidedAt),
      local: 'en-GB',
    });
    await agent.post('/profile/time-zone').type('form').send({ _csrf: csrf, timeZone: 'America/New_York' }).expect(303);
    assert.deepEqual((await agent.get(`/requests/${request.id}/state`).expect(200)).body.decidedAt, {
      datetime: new Date(decidedAt).toISOString(),
      text: format('en-GB', 'America/New_York', decidedAt),
      local: null,
    });
  });

  it('DEFAULT_TIME_ZONE is the zone of readers who chose none, and is named on the profile', async () => {
    const other = await createTestApp({ env: { DEFAULT_TIME_ZONE: 'America/Sao_Paulo' } });
    try {
      const admin = await addAccount(other.domain, { locale: 'pt' });
      const tech = await addAccount(other.domain);
      const newcomer = await addAccount(other.domain);
      const service = await other.domain.services.create({ name: `tz-${admin.handle}.pt`, type: 'domain', admin: admin.handle, tech: tech.handle, billing: admin.handle });
      const [request] = await other.domain.requests.submit(admin.id, service.id, { tech: newcomer.handle }, { ip: null });
      assert.ok(request);
      const { agent } = await loginAgent(other.app, admin.handle);
      const list = timesOf((await agent.get('/requests').expect(200)).text);
      assert.deepEqual(list[0], { datetime: new Date(request.createdAt).toISOString(), local: 'pt-PT', text: format('pt-PT', 'America/Sao_Paulo', request.createdAt) });
      const profile = (await agent.get('/profile').expect(200)).text;
      assert.match(profile, /<dt>Fuso horário<\/dt><dd>Automático \(o fuso horário do seu navegador; America\/Sao Paulo sem JavaScript\)<\/dd>/);
      assert.match(profile, /Guardar o fuso horário/);
    } finally {
      await other.close();
    }
  });
});
