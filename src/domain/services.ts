import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AccountService } from './accounts.js';
import { isStalePreparedStatement } from './db-errors.js';
import { NotFoundError, ValidationError, type Message } from './errors.js';
import { isRole, isServiceType, roleColumn, ROLES, type Role, type ServiceType } from './roles.js';
import { parseRowId } from './row-ids.js';
import { foldForSearch } from './search-text.js';
import { jsonArrayAgg, jsonTuples, rowsOf } from './sql-json.js';

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
/** About how much memory a process gives to what it remembers of lists (see ListMemory). */
const LIST_MEMORY_BYTES = 8 * 1024 * 1024;
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

/** The longest folded name (search_name) a service may have, in UTF-8 bytes. */
const MAX_SEARCH_NAME_BYTES = 2000;

/** A valid name, trimmed, with its folded form for services.search_name; or why it is not valid. */
export function checkServiceName(raw: unknown): { name: string; searchName: string } | { error: Message } {
  const name = typeof raw === 'string' ? raw.trim() : '';
  if (name === '') return { error: { key: 'errors.service.nameRequired' } };
  // A lone surrogate is no character: it cannot be stored as UTF-8 text, nor read as JSON by
  // PostgreSQL (mail payloads carry the name).
  if (name.length > 200 || /[\x00-\x1f\x7f]/.test(name) || /\p{Cs}/u.test(name)) return { error: { key: 'errors.service.nameFormat' } };
  // Compatibility characters can unfold into many ("ﷺ" into 18): the folded name goes into the
  // contacts list's indexes, whose entries PostgreSQL limits to about 2,700 bytes.
  const searchName = foldForSearch(name);
  if (Buffer.byteLength(searchName) > MAX_SEARCH_NAME_BYTES) return { error: { key: 'errors.service.nameFormat' } };
  return { name, searchName };
}

export interface ServiceCatalogDeps {
  knex: Knex;
  /**
   * The contacts list's pool: read-only connections that may run beside `knex` (the same data,
   * as committed). Nothing that must see a transaction's own uncommitted writes reads here.
   */
  reader: Knex;
  accounts: AccountService;
  now: () => number;
}

/** Reads and creates services; every read for a user is scoped to the services where it holds a role. */
export class ServiceCatalog {
  /** Totals and pages' first rows of the lists served lately (see ListMemory). */
  private readonly lists = new LRUCache<string, ListMemory>({ maxSize: LIST_MEMORY_BYTES, sizeCalculation: listMemorySize });
  /** Part of the PostgreSQL list statements' names (see preparedName); moves on when one is stale. */
  private preparedGeneration = 0;

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
        search_name: name.searchName,
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
    const id = parseRowId(serviceId);
    const service = id === undefined ? undefined : await this.findById(id, db);
    const myRoles = service ? rolesOf(service, accountId) : [];
    if (!service || myRoles.length === 0) throw new NotFoundError('errors.service.notFound');
    return { ...service, myRoles };
  }

  /**
   * One page of the services where the account holds a role. The services are read as disjoint
   * arms, one per role, each excluding what an earlier arm lists (see LIST_ARMS), so that no
   * de-duplication is needed: the total is the sum of the arms' counts and a page is the merge
   * of the arms in (search_name, id) or (type, search_name, id) order: by the name without case
   * or accents (search-text.ts), as people sort. Each arm is one range of a covering index
   * (migration 20261124070100), so neither query reads the table; only the page's rows are then
   * joined with their names and contacts. Without a search or type filter the total is not
   * counted at all but read from account_service_counts, which the database's triggers keep
   * (migration 20261124050100): one primary-key lookup.
   *
   * A page is found by skipping the rows before it, from the nearer end of the list (pages past
   * the middle are read backwards), or, keyset style, from the first row of a page served before
   * at the same list version (see ListMemory): the same page again, the next one, or one a few
   * pages further, costs no more than the first page. A list served before at the same version
   * takes one statement: its version and the page planned on its remembered total, together.
   */
  async listForAccount(accountId: number, query: ServiceListQuery): Promise<ServiceListPage> {
    const knex = this.deps.reader;
    const postgres = knex.client.config.client === 'pg';
    const arms = query.role ? [{ column: roleColumn[query.role], earlier: [] }] : LIST_ARMS;
    const filters: string[] = [];
    const filterBindings: (string | number)[] = [];
    if (query.type) {
      filters.push('type = ?');
      filterBindings.push(query.type);
    }
    // Names and the search are compared folded (search-text.ts), as plain substrings: no LIKE
    // pattern to escape, and no per-character case folding in the database.
    const search = query.q ? foldForSearch(query.q) : '';
    if (search) {
      filters.push(`${postgres ? 'strpos' : 'instr'}(search_name, ?) > 0`);
      filterBindings.push(search);
    }
    const order = query.sort === 'type' ? ['type', 'search_name', 'id'] : ['search_name', 'id'];
    const arm = (part: ListArm, columns: string, after?: SortKey): Statement => ({
      sql: `SELECT ${columns} FROM services WHERE ${[
        `${part.column} = ?`,
        ...part.earlier.map((column) => `${column} <> ?`),
        ...filters,
        ...(after ? [`(${order.join(', ')}) >= (${order.map(() => '?').join(', ')})`] : []),
      ].join(' AND ')}`,
      bindings: [accountId, ...part.earlier.map(() => accountId), ...filterBindings, ...(after ?? [])],
    });
    /** The page's rows as one JSON value (see sql-json.ts), as a subquery. */
    const pageQuery = (plan: PagePlan): Statement => {
      const direction = plan.reverse ? 'DESC' : 'ASC';
      const orderBy = `ORDER BY ${order.map((column) => `${column} ${direction}`).join(', ')}`;
      // SQLite merges the arms of a compound SELECT in the ORDER BY's order by itself; PostgreSQL
      // only merges them (Merge Append) when each arm is a subquery with that order.
      const parts = arms.map((part) => {
        const { sql, bindings } = arm(part, 'id, search_name, type', plan.after);
        return { sql: postgres && arms.length > 1 ? `(${sql} ${orderBy})` : sql, bindings };
      });
      return {
        sql: `(SELECT ${jsonArrayAgg(knex, LIST_TUPLE, order.map((column) => `p.${column}`).join(', '))}
             FROM (${parts.map((part) => part.sql).join(' UNION ALL ')} ${orderBy} LIMIT ? OFFSET ?) AS p
             JOIN services s ON s.id = p.id
             JOIN accounts a ON a.id = s.admin_id
             JOIN accounts t ON t.id = s.tech_id
             JOIN accounts b ON b.id = s.billing_id)`,
        bindings: [...parts.flatMap((part) => part.bindings), plan.limit, plan.skip],
      };
    };
    /** One statement of the given subqueries (each a one-value SELECT), answered as one row. */
    const select = async (columns: Record<string, Statement>): Promise<Record<string, unknown> | undefined> => {
      const entries = Object.entries(columns);
      const sql = `SELECT ${entries.map(([name, column]) => `${column.sql} AS ${name}`).join(', ')}`;
      const bindings = entries.flatMap(([, column]) => column.bindings);
      if (!postgres) return rowsOf<Record<string, unknown>>(await knex.raw(sql, bindings))[0];
      // node-postgres prepares a statement under the name given in the query's options, once per
      // connection, and never forgets it: if the server no longer has it as prepared, the names
      // of a new generation are prepared afresh on every connection.
      const run = async (generation: number) => rowsOf<Record<string, unknown>>(await knex.raw(sql, bindings).options({ name: preparedName(sql, generation) }))[0];
      const generation = this.preparedGeneration;
      try {
        return await run(generation);
      } catch (error) {
        if (!isStalePreparedStatement(error)) throw error;
        if (this.preparedGeneration === generation) this.preparedGeneration += 1;
        return run(this.preparedGeneration);
      }
    };
    const listVersion: Statement = { sql: '(SELECT list_version FROM account_service_counts WHERE account_id = ?)', bindings: [accountId] };
    const listKey = [accountId, query.role ?? '', query.type ?? '', search, query.sort].join('\u0000');

    // A list served before: its version and the page planned on its remembered total, in one
    // statement; if the version has moved on, the page is dropped and the list read afresh.
    const remembered = this.lists.get(listKey);
    if (remembered) {
      const plan = planPage(query.page, remembered.total, remembered.anchors);
      const row = await select({ v: listVersion, ...(plan.size > 0 ? { list: pageQuery(plan) } : {}) });
      if (row && Number(row.v ?? 0) === remembered.version) return this.served(listKey, remembered, plan, row.list, accountId, query.sort);
    }

    // The total (kept by the database, or counted) and the version, in one statement, with the
    // first page, which does not depend on the total.
    const counts = (): Record<string, Statement> =>
      Object.fromEntries(
        arms.map((part, i) => {
          const count = arm(part, 'count(*)');
          return [`n${i}`, { sql: `(${count.sql})`, bindings: count.bindings }];
        }),
      );
    const totals: Record<string, Statement> =
      filters.length === 0
        ? { n0: { sql: `(SELECT ${query.role ? COUNT_COLUMNS[query.role] : 'services'} FROM account_service_counts WHERE account_id = ?)`, bindings: [accountId] } }
        : counts();
    const firstPage = query.page <= 1 ? FIRST_PAGE_UNCOUNTED : undefined;
    const row = (await select({ v: listVersion, ...totals, ...(firstPage ? { list: pageQuery(firstPage) } : {}) })) ?? {};
    let total: number;
    if (row.n0 === null) {
      // Every account has its counts row (created with the account); counting stays the fallback.
      const counted = await select(counts());
      total = arms.reduce((sum, _part, i) => sum + Number(counted?.[`n${i}`] ?? 0), 0);
    } else {
      total = arms.reduce((sum, _part, i) => sum + Number(row[`n${i}`] ?? 0), 0);
    }
    // Nothing is remembered at version 0: a counts row's version before any change (see ListMemory).
    const version = Number(row.v ?? 0);
    const memory: ListMemory | undefined = version > 0 ? { version, total, anchors: new Map() } : undefined;
    if (firstPage) return this.served(listKey, memory, planPage(1, total, new Map()), row.list, accountId, query.sort);
    const plan = planPage(query.page, total, memory?.anchors ?? new Map());
    const list = plan.size > 0 ? (await select({ list: pageQuery(plan) }))?.list : null;
    return this.served(listKey, memory, plan, list, accountId, query.sort);
  }

  /** The page read by `plan`, remembering its first row (and the next page's) at the list's version. */
  private served(listKey: string, memory: ListMemory | undefined, plan: PagePlan, list: unknown, accountId: number, sort: Sort): ServiceListPage {
    const rows = jsonTuples<ListTuple>([{ list: list ?? null }]);
    const next = rows[plan.size];
    rows.length = Math.min(rows.length, plan.size);
    // Only a full page's next row is where the next page starts.
    if (next && plan.size === PAGE_SIZE) memory?.anchors.set(plan.page + 1, sortKeyOf(next, sort));
    if (memory) {
      if (rows[0]) memory.anchors.set(plan.page, sortKeyOf(rows[0], sort));
      // The anchors remembered first go first.
      for (const anchored of memory.anchors.keys()) if (memory.anchors.size > ANCHORS_PER_LIST) memory.anchors.delete(anchored);
      // A new object: the cache weighs an entry again only when it is given another value.
      this.lists.set(listKey, { ...memory });
    } else {
      this.lists.delete(listKey);
    }
    return {
      rows: rows.map((tuple) => toServiceRow(tuple, accountId)),
      total: plan.total,
      page: plan.page,
      pageCount: plan.pageCount,
      pageSize: PAGE_SIZE,
    };
  }
}

/**
 * The name of the prepared statement for a list statement's text. On PostgreSQL an unnamed
 * statement is planned anew each time, and planning these took longer than running them (the
 * benchmark's statement log: about 1.9 ms against 1.7 per page). A named one is parsed once per
 * connection, and after a few runs PostgreSQL reuses one generic plan for it (index scans,
 * whatever the account). The texts come from a bounded set of shapes (role, filters, order,
 * direction, keyset or not; every value is a parameter), so each connection prepares a bounded
 * number of statements.
 */
function preparedName(sql: string, generation: number): string {
  return `list${generation}-${createHash('sha1').update(sql).digest('base64url')}`;
}

interface Statement {
  sql: string;
  bindings: (string | number)[];
}

/** How a page is read: which rows of the list's order, from where. */
interface PagePlan {
  page: number;
  pageCount: number;
  total: number;
  /** How many rows the page has. */
  size: number;
  /** How many rows are read: one more than the page, forwards, when there is a next page (its first row). */
  limit: number;
  /** How many rows are skipped, from the start, the end (reverse) or `after`. */
  skip: number;
  reverse: boolean;
  /** Read from this row on (a remembered page's first row) rather than from the start. */
  after?: SortKey;
}

/**
 * How the first page is read before the total is known (in the statement that reads the total):
 * a full page and the next page's first row, from the start. Only how it is read: the page is
 * then served by the plan of page 1 for the total read with it.
 */
const FIRST_PAGE_UNCOUNTED: PagePlan = Object.freeze({ page: 1, pageCount: 1, total: 0, size: PAGE_SIZE, limit: PAGE_SIZE + 1, skip: 0, reverse: false });

/**
 * How to read page `requested` of a list of `total` rows (clamped to the pages there are): from
 * the nearer end of the list, or from the nearest remembered page before it if that skips fewer.
 */
function planPage(requested: number, total: number, anchors: Map<number, SortKey>): PagePlan {
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const page = Math.min(Math.max(1, requested), pageCount);
  const start = (page - 1) * PAGE_SIZE;
  const end = Math.min(start + PAGE_SIZE, total);
  let reverse = start > total - end;
  let skip = reverse ? total - end : start;
  let after: SortKey | undefined;
  for (const [anchored, key] of anchors) {
    const fromAnchor = (page - anchored) * PAGE_SIZE;
    if (fromAnchor >= 0 && fromAnchor < skip) [after, skip, reverse] = [key, fromAnchor, false];
  }
  const size = Math.max(0, end - start);
  return { page, pageCount, total, size, limit: size + (!reverse && end < total ? 1 : 0), skip, reverse, after };
}

/** Where a row stands in the list's order: (search_name, id), or (type, search_name, id). */
type SortKey = (string | number)[];

function sortKeyOf(tuple: ListTuple, sort: Sort): SortKey {
  const key = [tuple[10], Number(tuple[0])];
  return sort === 'type' ? [tuple[2], ...key] : key;
}

/**
 * What a process remembers of one list (an account, its filters and sort) at one version of the
 * account's list (account_service_counts.list_version, migration 20261125010000): any insert,
 * deletion, change of contacts, folded name or type of one of the account's services gives it a
 * new version (the triggers of migration 20261125010100), whichever process made the change, and
 * what was remembered at an older version is then never used again.
 */
interface ListMemory {
  version: number;
  /**
   * The list's total. Counting a search reads every one of the account's index entries (a
   * millisecond for 10,000 services); paging through the results, or coming back to them, would
   * count the same unchanged list again on every page. Any change to the total changes the version.
   */
  total: number;
  /** The sort key of the first row of pages served (or of the page after one): pages are read from there. */
  anchors: Map<number, SortKey>;
}

/** How many pages' first rows are remembered per list (the oldest are forgotten first). */
const ANCHORS_PER_LIST = 32;

/** Roughly how many bytes a remembered list takes, for the cache's bound. */
function listMemorySize(memory: ListMemory, key: string): number {
  let size = 100 + 2 * key.length;
  // An anchor's search_name is its one long part (second to last, before the id).
  for (const anchor of memory.anchors.values()) size += 60 + 2 * String(anchor[anchor.length - 2]).length;
  return size;
}

interface ListArm {
  column: string;
  earlier: string[];
}

/** A row of the contacts list, as jsonArrayAgg answers it. */
const LIST_TUPLE = [
  's.id', 's.name', 's.type', 's.admin_id', 's.tech_id', 's.billing_id', 'a.handle', 't.handle', 'b.handle',
  'EXISTS (SELECT 1 FROM request_roles rr WHERE rr.service_id = s.id AND rr.active)', 's.search_name',
];
type ListTuple = [
  id: number, name: string, type: string, adminId: number, techId: number, billingId: number,
  adminHandle: string, techHandle: string, billingHandle: string, pending: number | boolean, searchName: string,
];

/**
 * A tuple of the list as the page's row. Built field by field: destructuring the tuple and
 * spreading a Service into the row allocated about 1.3 KB per row, a fifth of what the page's
 * data cost the garbage collector.
 */
function toServiceRow(tuple: ListTuple, accountId: number): ServiceRow {
  const admin = { id: Number(tuple[3]), handle: tuple[6] };
  const tech = { id: Number(tuple[4]), handle: tuple[7] };
  const billing = { id: Number(tuple[5]), handle: tuple[8] };
  const pending = tuple[9];
  return {
    id: Number(tuple[0]),
    name: tuple[1],
    type: tuple[2] as ServiceType,
    admin,
    tech,
    billing,
    myRoles: rolesOf({ admin, tech, billing }, accountId),
    pending: pending === true || Number(pending) === 1,
  };
}

/** The arms of the contacts list: each role's services, minus those an earlier role already lists. */
const LIST_ARMS: ListArm[] = [
  { column: 'admin_id', earlier: [] },
  { column: 'tech_id', earlier: ['admin_id'] },
  { column: 'billing_id', earlier: ['admin_id', 'tech_id'] },
];

/** The column of account_service_counts that holds the number of services with each role. */
const COUNT_COLUMNS: Record<Role, string> = { admin: 'admin', tech: 'tech', billing: 'billing' };

export function parseListQuery(raw: Record<string, unknown>): ServiceListQuery {
  const q = typeof raw.q === 'string' ? raw.q.trim().slice(0, 100) : '';
  const type = isServiceType(raw.type) ? raw.type : undefined;
  const role = isRole(raw.role) ? raw.role : undefined;
  const sort = raw.sort === 'type' ? 'type' : 'name';
  const pageNumber = typeof raw.page === 'string' && /^[0-9]{1,6}$/.test(raw.page) ? Number(raw.page) : 1;
  return { q, type, role, sort, page: Math.max(1, pageNumber) };
}
