// Property-based: generated hostile input at every form and query parameter must never produce a
// 5xx, must write nothing when the answer is an error, and must never reflect a script unescaped.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addAccount, createTestApp, loginAgent, type TestApp } from '../helpers/test-app.js';

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    'Robert"); DROP TABLE accounts;--',
    'a\r\nBcc: victim@example.com',
    'nul\u0000byte',
    '%00%0d%0a',
    '../../etc/passwd',
    '\u202e\u200b\ufeff',
    'x'.repeat(5000),
    '{{constructor.constructor("return process")()}}',
    '<%= process.env %>',
  ),
);

/** A field value: a string, an array (repeated field) or a nested key. */
const hostileValue = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.array(hostileString, { minLength: 2, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('a', '__proto__', 'constructor'), hostileString, { maxKeys: 2 }) },
);

function encodeForm(fields: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) {
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
    else if (value && typeof value === 'object') for (const [sub, item] of Object.entries(value)) params.append(`${key}[${sub}]`, String(item));
    else params.append(key, String(value));
  }
  return params.toString();
}

const TABLES = ['accounts', 'services', 'change_requests', 'request_parties', 'request_roles', 'outbox', 'audit_log'];

describe('web: hostile input (property-based)', function () {
  this.timeout(120_000);
  let t: TestApp;
  let agent: Awaited<ReturnType<typeof loginAgent>>['agent'];
  let csrf: string;
  let serviceId: number;
  let requestId: number;

  before(async () => {
    t = await createTestApp();
    const admin = await addAccount(t.domain);
    const other = await addAccount(t.domain);
    const service = await t.domain.services.create({ name: 'hostile.pt', type: 'domain', admin: admin.handle, tech: admin.handle, billing: admin.handle });
    serviceId = service.id;
    const [request] = await t.domain.requests.submit(admin.id, service.id, { billing: other.handle }, { ip: null });
    requestId = request?.id as number;
    ({ agent, csrf } = await loginAgent(t.app, admin.handle));
  });
  after(() => t.close());

  async function counts(): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const table of TABLES) result[table] = Number(((await t.db.knex(table).count({ n: '*' }).first()) as { n: number }).n);
    return result;
  }

  function checkResponse(status: number, text: string, values: unknown[]) {
    assert.ok(status < 500, `status ${status}`);
    for (const value of values.flat()) {
      // Short values like "<f" are found in any page ("<form"): only values long enough to be
      // told apart from the page's own markup are looked for (the script payloads above are).
      if (typeof value === 'string' && value.length >= 8 && /<[a-z]/i.test(value)) assert.ok(!text.includes(value), `reflected unescaped: ${value}`);
    }
  }

  const forms: { name: string; path: () => string; fields: string[] }[] = [
    { name: '/login', path: () => '/login', fields: ['handle', 'password', 'next'] },
    { name: '/services/:id/contacts', path: () => `/services/${serviceId}/contacts`, fields: ['admin', 'tech', 'billing', 'seen_admin', 'seen_tech', 'seen_billing'] },
    { name: '/services/:id/owner', path: () => `/services/${serviceId}/owner`, fields: ['street', 'postalCode', 'city', 'country', 'phone', 'email'] },
    { name: '/profile/email', path: () => '/profile/email', fields: ['email', 'password'] },
    { name: '/profile/password', path: () => '/profile/password', fields: ['currentPassword', 'newPassword'] },
    { name: '/profile/time-zone', path: () => '/profile/time-zone', fields: ['timeZone'] },
    { name: '/requests/:id/confirm', path: () => `/requests/${requestId}/confirm`, fields: ['token', 'decision'] },
    { name: '/language', path: () => '/language', fields: ['language', 'next'] },
  ];
  const statuses = new Map<string, number>();
  after(() => {
    if (process.env.SHOW_STATUSES) console.log(Object.fromEntries(statuses));
  });

  for (const form of forms) {
    it(`POST ${form.name} survives generated input`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.record(Object.fromEntries(form.fields.map((f) => [f, hostileValue]))), fc.option(fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 1 })), async (fields, extra) => {
          const before = await counts();
          const values = [...Object.values(fields), ...Object.values(extra ?? {})];
          const response = await agent.post(form.path()).type('form').send(encodeForm({ _csrf: csrf, ...fields, ...(extra ?? {}) }));
          const key = `${form.name} ${response.status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          checkResponse(response.status, response.text, values);
          if (response.status >= 400) {
            const after = await counts();
            // Failed logins and refused tokens are audited; nothing else may change.
            delete before.audit_log;
            delete after.audit_log;
            assert.deepEqual(after, before, `status ${response.status} but rows changed`);
          }
        }),
        { numRuns: 25 },
      );
    });
  }

  const queries: { path: string; params: string[] }[] = [
    { path: '/contacts', params: ['q', 'type', 'role', 'sort', 'page'] },
    { path: '/requests', params: ['state', 'page'] },
    { path: `/requests/:id/confirm`, params: ['token'] },
    { path: '/login', params: ['next'] },
  ];
  for (const query of queries) {
    it(`GET ${query.path} survives generated query strings`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.record(Object.fromEntries(query.params.map((p) => [p, hostileValue])), { requiredKeys: [] }), async (params) => {
          const response = await agent.get(`${query.path.replace(':id', String(requestId))}?${encodeForm(params)}`);
          checkResponse(response.status, response.text, Object.values(params));
        }),
        { numRuns: 25 },
      );
    });
  }

  // PostgreSQL refuses NUL in text with an error: every field must stop it before any query.
  it('refuses a NUL character in any form field or query parameter with 400 and changes nothing', async () => {
    const before = await counts();
    delete before.audit_log;
    for (const form of forms) {
      for (const field of form.fields) {
        const response = await agent.post(form.path()).type('form').send(encodeForm({ _csrf: csrf, [field]: 'nul\u0000byte' }));
        assert.equal(response.status, 400, `${form.name} ${field}`);
      }
    }
    for (const query of queries) {
      for (const param of query.params) {
        const response = await agent.get(`${query.path.replace(':id', String(requestId))}?${encodeForm({ [param]: 'nul\u0000byte' })}`);
        // A logged-in agent is sent away from /login before its query is read.
        assert.equal(response.status, query.path === '/login' ? 303 : 400, `${query.path} ${param}`);
      }
    }
    const after = await counts();
    delete after.audit_log;
    assert.deepEqual(after, before);
  });

  it('answers unknown ids and malformed ids with 404 on every route', async () => {
    // 2147483648 and up: past the 32-bit id columns, which PostgreSQL refuses as a parameter.
    for (const id of ['0', '-1', '99999999', '2147483648', '9999999999', 'abc', '1e3', '%00', '1;DROP']) {
      for (const path of [`/services/${id}/contacts/edit`, `/services/${id}/owner`, `/requests/${id}`, `/requests/${id}/state`, `/requests/${id}/confirm?token=x`]) {
        const response = await agent.get(path);
        assert.equal(response.status, 404, path);
      }
      const posts: [string, Record<string, string>][] = [
        [`/services/${id}/contacts`, { tech: 'aa000001-ovh' }],
        [`/services/${id}/owner`, { city: 'Lisboa' }],
        [`/requests/${id}/resend`, {}],
        [`/requests/${id}/cancel`, {}],
        [`/requests/${id}/confirm`, { token: 'x'.repeat(43), decision: 'accept' }],
      ];
      for (const [path, fields] of posts) {
        const response = await agent.post(path).type('form').send({ _csrf: csrf, ...fields });
        assert.equal(response.status, 404, `POST ${path}`);
      }
    }
  });
});
