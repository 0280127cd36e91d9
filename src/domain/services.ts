import type { Knex } from 'knex';
import type { AccountService } from './accounts.js';
import { NotFoundError, ValidationError, type Message } from './errors.js';
import { isRole, isServiceType, ROLES, type Role, type ServiceType } from './roles.js';

export interface ContactRef {
  id: number;
  handle: string;
}

export interface Service {
  id: number;
  name: string;
  type: ServiceType;
  admin: ContactRef;
  tech: ContactRef;
  billing: ContactRef;
}

export interface ServiceRow extends Service {
  /** The roles the viewing account holds on this service. */
  myRoles: Role[];
  pending: boolean;
}

export const PAGE_SIZE = 50;
export const SORTS = ['name', 'type'] as const;
export type Sort = (typeof SORTS)[number];

export interface ServiceListQuery {
  q: string;
  type: ServiceType | undefined;
  role: Role | undefined;
  sort: Sort;
  page: number;
}

export interface ServiceListPage {
  rows: ServiceRow[];
  total: number;
  page: number;
  pageCount: number;
  pageSize: number;
}

export function rolesOf(service: Pick<Service, Role>, accountId: number): Role[] {
  return ROLES.filter((role) => service[role].id === accountId);
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => '\\' + c);
}

interface JoinedRow {
  id: number;
  name: string;
  type: string;
  admin_id: number;
  tech_id: number;
  billing_id: number;
  admin_handle: string;
  tech_handle: string;
  billing_handle: string;
  pending?: number | boolean;
}

function toService(row: JoinedRow): Service {
  return {
    id: row.id,
    name: row.name,
    type: row.type as ServiceType,
    admin: { id: row.admin_id, handle: row.admin_handle },
    tech: { id: row.tech_id, handle: row.tech_handle },
    billing: { id: row.billing_id, handle: row.billing_handle },
  };
}

export interface NewServiceInput {
  name: unknown;
  type: unknown;
  admin: unknown;
  tech: unknown;
  billing: unknown;
}

export function checkServiceName(raw: unknown): { name: string } | { error: Message } {
  const name = typeof raw === 'string' ? raw.trim() : '';
  if (name === '') return { error: { key: 'errors.service.nameRequired' } };
  if (name.length > 200 || /[\x00-\x1f\x7f]/.test(name)) return { error: { key: 'errors.service.nameFormat' } };
  return { name };
}

export interface ServiceCatalogDeps {
  knex: Knex;
  accounts: AccountService;
  now: () => number;
}

/** Reads and creates services; every read for a user is scoped to the services where it holds a role. */
export class ServiceCatalog {
  constructor(private readonly deps: ServiceCatalogDeps) {}

  private joined(db: Knex | Knex.Transaction) {
    return db('services as s')
      .join('accounts as a', 'a.id', 's.admin_id')
      .join('accounts as t', 't.id', 's.tech_id')
      .join('accounts as b', 'b.id', 's.billing_id');
  }

  private static readonly COLUMNS = [
    's.id',
    's.name',
    's.type',
    's.admin_id',
    's.tech_id',
    's.billing_id',
    'a.handle as admin_handle',
    't.handle as tech_handle',
    'b.handle as billing_handle',
  ];

  async create(input: NewServiceInput): Promise<Service> {
    const errors: Record<string, Message> = {};
    const name = checkServiceName(input.name);
    if ('error' in name) errors.name = name.error;
    if (!isServiceType(input.type)) errors.type = { key: 'errors.service.type' };
    const contacts: Partial<Record<Role, number>> = {};
    for (const role of ROLES) {
      try {
        contacts[role] = (await this.deps.accounts.requireByHandle(input[role], role)).id;
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        Object.assign(errors, error.fields);
      }
    }
    if (Object.keys(errors).length > 0 || 'error' in name) throw new ValidationError(errors);
    const at = this.deps.now();
    const [row] = await this.deps.knex('services')
      .insert({
        name: name.name,
        type: input.type,
        admin_id: contacts.admin,
        tech_id: contacts.tech,
        billing_id: contacts.billing,
        created_at: at,
        updated_at: at,
      })
      .returning(['id']);
    return (await this.findById((row as { id: number }).id)) as Service;
  }

  async findById(id: number, db: Knex | Knex.Transaction = this.deps.knex): Promise<Service | undefined> {
    const row = (await this.joined(db).where('s.id', id).first(ServiceCatalog.COLUMNS)) as JoinedRow | undefined;
    return row ? toService(row) : undefined;
  }

  /** The service if the account holds a role on it; otherwise NotFound, so outsiders learn nothing. */
  async findForAccount(serviceId: unknown, accountId: number, db: Knex | Knex.Transaction = this.deps.knex): Promise<Service & { myRoles: Role[] }> {
    const id = typeof serviceId === 'string' && /^[1-9][0-9]{0,9}$/.test(serviceId) ? Number(serviceId) : typeof serviceId === 'number' ? serviceId : NaN;
    const service = Number.isSafeInteger(id) ? await this.findById(id, db) : undefined;
    const myRoles = service ? rolesOf(service, accountId) : [];
    if (!service || myRoles.length === 0) throw new NotFoundError('errors.service.notFound');
    return { ...service, myRoles };
  }

  async listForAccount(accountId: number, query: ServiceListQuery): Promise<ServiceListPage> {
    const { knex } = this.deps;
    const scope = (builder: Knex.QueryBuilder) => {
      if (query.role) builder.where(`s.${query.role}_id`, accountId);
      else builder.where((w) => w.where('s.admin_id', accountId).orWhere('s.tech_id', accountId).orWhere('s.billing_id', accountId));
      if (query.type) builder.where('s.type', query.type);
      if (query.q) {
        const pattern = `%${escapeLike(query.q)}%`;
        if (knex.client.config.client === 'pg') builder.whereRaw(`s.name ILIKE ? ESCAPE '\\'`, [pattern]);
        else builder.whereRaw(`s.name LIKE ? ESCAPE '\\'`, [pattern]);
      }
      return builder;
    };
    const countRow = (await scope(knex('services as s')).count({ n: '*' }).first()) as { n: number | string } | undefined;
    const total = Number(countRow?.n ?? 0);
    const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const page = Math.min(Math.max(1, query.page), pageCount);
    const ordered = scope(this.joined(knex))
      .select(ServiceCatalog.COLUMNS)
      .select(
        knex.raw('EXISTS (SELECT 1 FROM request_roles rr WHERE rr.service_id = s.id AND rr.active) AS pending'),
      )
      .orderBy(query.sort === 'type' ? [{ column: 's.type' }, { column: 's.name' }, { column: 's.id' }] : [{ column: 's.name' }, { column: 's.id' }])
      .limit(PAGE_SIZE)
      .offset((page - 1) * PAGE_SIZE);
    const rows = (await ordered) as JoinedRow[];
    return {
      rows: rows.map((row) => {
        const service = toService(row);
        return { ...service, myRoles: rolesOf(service, accountId), pending: row.pending === true || Number(row.pending) === 1 };
      }),
      total,
      page,
      pageCount,
      pageSize: PAGE_SIZE,
    };
  }
}

export function parseListQuery(raw: Record<string, unknown>): ServiceListQuery {
  const q = typeof raw.q === 'string' ? raw.q.trim().slice(0, 100) : '';
  const type = isServiceType(raw.type) ? raw.type : undefined;
  const role = isRole(raw.role) ? raw.role : undefined;
  const sort = raw.sort === 'type' ? 'type' : 'name';
  const pageNumber = typeof raw.page === 'string' && /^[0-9]{1,6}$/.test(raw.page) ? Number(raw.page) : 1;
  return { q, type, role, sort, page: Math.max(1, pageNumber) };
}
