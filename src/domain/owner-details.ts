import type { Knex } from 'knex';
import type { AuditLog } from './audit.js';
import { parseEmail } from './email.js';
import { ForbiddenError, NotFoundError, ValidationError, type Message } from './errors.js';
import type { ServiceCatalog } from './services.js';

export interface OwnerDetails {
  name: string;
  street: string;
  postalCode: string;
  city: string;
  country: string;
  phone: string;
  email: string;
}

const COLUMNS = {
  name: 'owner_name',
  street: 'owner_street',
  postalCode: 'owner_postal_code',
  city: 'owner_city',
  country: 'owner_country',
  phone: 'owner_phone',
  email: 'owner_email',
} as const;

type EditableField = Exclude<keyof OwnerDetails, 'name'>;
const EDITABLE: EditableField[] = ['street', 'postalCode', 'city', 'country', 'phone', 'email'];

function text(raw: unknown, field: string, max: number, required: boolean): { value: string } | { error: Message } {
  const value = typeof raw === 'string' ? raw.replace(/\s+/g, ' ').trim() : '';
  if (required && value === '') return { error: { key: `errors.owner.${field}Required` } };
  if (value.length > max) return { error: { key: `errors.owner.${field}Format`, params: { max } } };
  if (/[\x00-\x1f\x7f<>]/.test(value)) return { error: { key: `errors.owner.${field}Characters` } };
  return { value };
}

/** Validates the editable owner fields; the name is never accepted from a form. */
export function validateOwnerInput(input: Partial<Record<EditableField, unknown>>): { value: Omit<OwnerDetails, 'name'> } | { errors: Record<string, Message> } {
  const errors: Record<string, Message> = {};
  const value: Partial<Omit<OwnerDetails, 'name'>> = {};
  const street = text(input.street, 'street', 200, true);
  const postalCode = text(input.postalCode, 'postalCode', 20, true);
  const city = text(input.city, 'city', 100, true);
  const country = typeof input.country === 'string' ? input.country.trim().toUpperCase() : '';
  const phone = typeof input.phone === 'string' ? input.phone.replace(/[\s.()-]/g, '') : '';
  const email = parseEmail(input.email);
  for (const [field, result] of [['street', street], ['postalCode', postalCode], ['city', city]] as const) {
    if ('error' in result) errors[field] = result.error;
    else value[field] = result.value;
  }
  if (!/^[A-Z]{2}$/.test(country)) errors.country = { key: 'errors.owner.countryFormat' };
  else value.country = country;
  // E.164: a plus, a country code and up to 15 digits in all.
  if (!/^\+[1-9][0-9]{6,14}$/.test(phone)) errors.phone = { key: 'errors.owner.phoneFormat' };
  else value.phone = phone;
  if ('error' in email) errors.email = email.error;
  else value.email = email.email;
  if (Object.keys(errors).length > 0) return { errors };
  return { value: value as Omit<OwnerDetails, 'name'> };
}

/** Owner details of a domain: the administrator may edit all of them but the owner's name. */
export class OwnerDetailsService {
  constructor(private readonly deps: { knex: Knex; services: ServiceCatalog; audit: AuditLog; now: () => number }) {}

  private async requireAdminOfDomain(serviceId: unknown, accountId: number) {
    const service = await this.deps.services.findForAccount(serviceId, accountId);
    if (service.type !== 'domain') throw new NotFoundError('errors.owner.notADomain');
    if (!service.myRoles.includes('admin')) throw new ForbiddenError('errors.owner.adminOnly');
    return service;
  }

  async get(serviceId: unknown, accountId: number) {
    const service = await this.requireAdminOfDomain(serviceId, accountId);
    const row = (await this.deps.knex('services').where({ id: service.id }).first(Object.values(COLUMNS))) as Record<string, string | null>;
    const owner = Object.fromEntries(Object.entries(COLUMNS).map(([key, column]) => [key, row[column] ?? ''])) as unknown as OwnerDetails;
    return { service, owner };
  }

  async update(serviceId: unknown, accountId: number, input: Partial<Record<EditableField, unknown>>, ctx: { ip: string | null }) {
    const service = await this.requireAdminOfDomain(serviceId, accountId);
    const checked = validateOwnerInput(input);
    if ('errors' in checked) throw new ValidationError(checked.errors);
    const update: Record<string, string | number> = { updated_at: this.deps.now() };
    for (const field of EDITABLE) update[COLUMNS[field]] = checked.value[field];
    await this.deps.knex.transaction(async (trx) => {
      await trx('services').where({ id: service.id }).update(update);
      await this.deps.audit.record({ accountId, action: 'owner.update', subject: `service:${service.id}`, ip: ctx.ip, detail: { fields: EDITABLE } }, trx);
    });
    return this.get(service.id, accountId);
  }
}
