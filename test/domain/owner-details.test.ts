import assert from 'node:assert/strict';
import type { Account } from '../../src/domain/accounts.js';
import { ForbiddenError, NotFoundError } from '../../src/domain/errors.js';
import type { Service } from '../../src/domain/services.js';
import { CTX, DomainFixture, rejectsField, rejectsWith } from '../helpers/domain-fixtures.js';

const VALID = {
  street: 'Rua Augusta 10',
  postalCode: '1100-053',
  city: 'Lisboa',
  country: 'PT',
  phone: '+351211234567',
  email: 'owner@example.test',
};

describe('domain: owner details', () => {
  let f: DomainFixture;

  before(async () => {
    f = await DomainFixture.create();
  });
  after(() => f.close());

  async function domainOf(): Promise<{ a: Account; t: Account; service: Service }> {
    const [a, t] = (await f.accounts(2)) as [Account, Account];
    const service = await f.service({ admin: a, tech: t, billing: t }, { type: 'domain' });
    await f.knex('services').where({ id: service.id }).update({ owner_name: 'Ana Proprietária' });
    return { a, t, service };
  }

  async function ownerRow(serviceId: number) {
    return (await f.knex('services').where({ id: serviceId }).first('owner_name', 'owner_street', 'owner_postal_code', 'owner_city', 'owner_country', 'owner_phone', 'owner_email')) as Record<
      string,
      string | null
    >;
  }

  async function auditRows(accountId: number) {
    return (await f.knex('audit_log').where({ account_id: accountId }).orderBy('id').select('action', 'subject', 'ip', 'detail')) as {
      action: string;
      subject: string | null;
      ip: string | null;
      detail: string | null;
    }[];
  }

  it('lets the administrator of a domain read the owner details', async () => {
    const { a, service } = await domainOf();
    const { service: seen, owner } = await f.domain.owners.get(service.id, a.id);
    assert.equal(seen.id, service.id);
    assert.deepEqual(owner, { name: 'Ana Proprietária', street: '', postalCode: '', city: '', country: '', phone: '', email: '' });
  });

  it('lets the administrator update address, phone and e-mail (normalized), never the name, and audits it', async () => {
    const { a, service } = await domainOf();
    const input = {
      street: '  Rua   Augusta 10 ',
      postalCode: '1100-053',
      city: 'Lisboa',
      country: 'pt',
      phone: '+351 21 123-4567',
      email: ' owner@example.test ',
      name: 'Mallory Takeover',
    };
    const { owner } = await f.domain.owners.update(service.id, a.id, input, CTX);

    assert.deepEqual(owner, { name: 'Ana Proprietária', ...VALID });
    assert.deepEqual(await ownerRow(service.id), {
      owner_name: 'Ana Proprietária',
      owner_street: 'Rua Augusta 10',
      owner_postal_code: '1100-053',
      owner_city: 'Lisboa',
      owner_country: 'PT',
      owner_phone: '+351211234567',
      owner_email: 'owner@example.test',
    });
    const audit = await auditRows(a.id);
    assert.equal(audit.length, 1);
    assert.deepEqual([audit[0]?.action, audit[0]?.subject, audit[0]?.ip], ['owner.update', `service:${service.id}`, CTX.ip]);
    const detail = JSON.parse(audit[0]?.detail ?? '{}') as { fields?: string[] };
    assert.ok(detail.fields?.includes('street'));
    assert.ok(!detail.fields?.includes('name'));
  });

  it('refuses a non-administrator contact of the domain with Forbidden, changing nothing', async () => {
    const { t, service } = await domainOf();
    await rejectsWith(f.domain.owners.get(service.id, t.id), ForbiddenError, 'errors.owner.adminOnly');
    await rejectsWith(f.domain.owners.update(service.id, t.id, VALID, CTX), ForbiddenError, 'errors.owner.adminOnly');
    assert.equal((await ownerRow(service.id)).owner_street, null);
    assert.deepEqual(await auditRows(t.id), []);
  });

  it('answers NotFound for a service that is not a domain', async () => {
    const [a, t] = (await f.accounts(2)) as [Account, Account];
    const hosting = await f.service({ admin: a, tech: t, billing: t }, { type: 'hosting' });
    await rejectsWith(f.domain.owners.get(hosting.id, a.id), NotFoundError);
    await rejectsWith(f.domain.owners.update(hosting.id, a.id, VALID, CTX), NotFoundError);
    await rejectsWith(f.domain.owners.get(hosting.id, t.id), NotFoundError, undefined);
    assert.equal((await ownerRow(hosting.id)).owner_street, null);
  });

  it('answers NotFound to an outsider, as for a service that does not exist', async () => {
    const { service } = await domainOf();
    const [outsider] = (await f.accounts(1)) as [Account];
    const hidden = await rejectsWith(f.domain.owners.get(service.id, outsider.id), NotFoundError);
    const missing = await rejectsWith(f.domain.owners.get(999_999, outsider.id), NotFoundError);
    assert.equal(hidden.messageKey, missing.messageKey, 'an outsider cannot tell the two apart');
    await rejectsWith(f.domain.owners.update(service.id, outsider.id, VALID, CTX), NotFoundError);
    assert.equal((await ownerRow(service.id)).owner_street, null);
    assert.deepEqual(await auditRows(outsider.id), []);
  });

  it('refuses bad values field by field and writes nothing', async () => {
    const { a, service } = await domainOf();
    const error = await rejectsField(
      f.domain.owners.update(
        service.id,
        a.id,
        { street: '   ', postalCode: '1'.repeat(21), city: 'Lisboa <script>', country: 'PRT', phone: '0211234567', email: 'not-an-address' },
        CTX,
      ),
      'street',
      'errors.owner.streetRequired',
    );
    assert.deepEqual(
      Object.fromEntries(Object.entries(error.fields).map(([field, message]) => [field, message.key])),
      {
        street: 'errors.owner.streetRequired',
        postalCode: 'errors.owner.postalCodeFormat',
        city: 'errors.owner.cityCharacters',
        country: 'errors.owner.countryFormat',
        phone: 'errors.owner.phoneFormat',
        email: 'errors.email.format',
      },
    );
    assert.equal((await ownerRow(service.id)).owner_street, null);
    assert.deepEqual(await auditRows(a.id), []);
  });

  it('checks country and phone formats precisely', async () => {
    const { a, service } = await domainOf();
    for (const country of ['P', 'P1', 'PTX', '']) {
      await rejectsField(f.domain.owners.update(service.id, a.id, { ...VALID, country }, CTX), 'country', 'errors.owner.countryFormat');
    }
    for (const phone of ['351211234567', '+0211234567', '+12345', '+1234567890123456', '+351 21 12x 4567', '']) {
      await rejectsField(f.domain.owners.update(service.id, a.id, { ...VALID, phone }, CTX), 'phone', 'errors.owner.phoneFormat');
    }
    await rejectsField(f.domain.owners.update(service.id, a.id, { ...VALID, email: 'a@b' }, CTX), 'email', 'errors.email.format');
    await rejectsField(f.domain.owners.update(service.id, a.id, { ...VALID, email: '' }, CTX), 'email', 'errors.email.required');
    // The shortest and longest E.164 numbers pass.
    for (const phone of ['+1234567', '+123456789012345']) {
      const { owner } = await f.domain.owners.update(service.id, a.id, { ...VALID, phone }, CTX);
      assert.equal(owner.phone, phone);
    }
  });
});
