// Change requests: creation from the edit form, decisions with tokens, resend, cancel, expiry and
// reminders. Every state change is written with its audit event and its outbox mail in one
// transaction.
import type { Knex } from 'knex';
import { ACCOUNT_COLUMNS, toAccount, type Account, type AccountService } from './accounts.js';
import { changeableRoles, isDecision, planRequests, touchesBilling, type RequestState, type RoleChange } from './consent-rules.js';
import { isDeadlock, isUniqueViolation } from './db-errors.js';
import { BadRequestError, ForbiddenError, NotFoundError, RateLimitedError, ValidationError, type Message } from './errors.js';
import { parseHandle } from './handles.js';
import { requestMailPayload, type MailIntent, type Outbox, type RequestMailKind } from './outbox.js';
import { ROLES, roleColumn, type Role } from './roles.js';
import { parseRowId } from './row-ids.js';
import { idList, jsonArrayAgg, jsonTuples } from './sql-json.js';
import type { Service, ServiceCatalog } from './services.js';
import { hashToken, looksLikeToken, newToken } from './tokens.js';

export interface RequestParty {
  accountId: number;
  handle: string;
  decision: 'accept' | 'refuse' | null;
  decidedAt: number | null;
}

export interface ChangeRequest {
  id: number;
  serviceId: number;
  serviceName: string;
  serviceType: string;
  roles: Role[];
  state: RequestState;
  failureReason: string | null;
  requester: { id: number; handle: string };
  from: { id: number; handle: string };
  to: { id: number; handle: string };
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  parties: RequestParty[];
}

export interface RequestEvent {
  event: string;
  fromState: RequestState | null;
  toState: RequestState;
  actorHandle: string | null;
  at: number;
}

export interface RequestActions {
  canDecide: boolean;
  canResend: boolean;
  canCancel: boolean;
  /** Still pending in the database but past its expiry: dead already, expired by the next sweep. */
  pastExpiry: boolean;
}

export type DecisionOutcome =
  | { outcome: 'done'; request: ChangeRequest }
  | { outcome: 'waiting'; request: ChangeRequest; waitingFor: string }
  | { outcome: 'refused'; request: ChangeRequest }
  | { outcome: 'failed'; request: ChangeRequest; reason: string };

export interface RequestContext {
  ip: string | null;
}

export interface ChangeRequestDeps {
  knex: Knex;
  accounts: AccountService;
  services: ServiceCatalog;
  outbox: Outbox;
  handleSuffix: string;
  requestTtlMs: number;
  now: () => number;
  /** Resends allowed per party and request within an hour. */
  resendLimitPerHour?: number;
}

type Db = Knex | Knex.Transaction;

interface RequestRow {
  id: number;
  service_id: number;
  requester_id: number;
  from_account_id: number;
  to_account_id: number;
  roles: string;
  state: RequestState;
  failure_reason: string | null;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
}

const PAGE_SIZE = 25;

/** Requests per statement in transition(). */
const TRANSITION_CHUNK = 1000;

/** What loadMany reads per request, in this order (see RequestTuple). */
const REQUEST_TUPLE = [
  'r.id', 'r.service_id', 'r.requester_id', 'r.from_account_id', 'r.to_account_id', 'r.roles', 'r.state', 'r.failure_reason',
  'r.created_at', 'r.expires_at', 'r.decided_at', 's.name', 's.type', 'q.handle', 'f.handle', 't.handle',
];
type RequestTuple = [
  id: number, serviceId: number, requesterId: number, fromId: number, toId: number, roles: string, state: RequestState, failureReason: string | null,
  createdAt: number, expiresAt: number, decidedAt: number | null, serviceName: string, serviceType: string, requesterHandle: string, fromHandle: string, toHandle: string,
];
const PARTY_TUPLE = ['p.request_id', 'p.account_id', 'p.decision', 'p.decided_at'];
type PartyTuple = [requestId: number, accountId: number, decision: 'accept' | 'refuse' | null, decidedAt: number | null];

function parseRoles(value: string): Role[] {
  return ROLES.filter((role) => value.split(',').includes(role));
}

export class ChangeRequestService {
  constructor(private readonly deps: ChangeRequestDeps) {}

  // ---------------------------------------------------------------- creation

  /**
   * Turns a submitted edit form into change requests. Validates everything first and writes
   * nothing when anything is wrong; the database's partial unique index on pending roles
   * backs up the pending-request check against concurrent submissions.
   *
   * `seen` holds the handles the form showed (its hidden fields). A field left as it was shown is
   * no change, even when the contact changed since; a field changed by the user whose contact
   * also changed since is refused, with the contact it has now. Without it, a form opened before
   * a change was applied would silently ask to undo that change.
   */
  async submit(
    requesterId: number,
    serviceId: unknown,
    input: Partial<Record<Role, unknown>>,
    ctx: RequestContext,
    seen: Partial<Record<Role, unknown>> = {},
  ): Promise<ChangeRequest[]> {
    const { knex } = this.deps;
    const service = await this.deps.services.findForAccount(serviceId, requesterId);
    const allowed = changeableRoles(service.myRoles);
    const errors: Record<string, Message> = {};
    const incoming = new Map<Role, Account>();

    for (const role of ROLES) {
      const raw = input[role];
      if (raw === undefined) continue;
      const parsed = parseHandle(raw, this.deps.handleSuffix);
      if ('error' in parsed) {
        errors[role] = parsed.error;
        continue;
      }
      const shown = seen[role] === undefined ? undefined : parseHandle(seen[role], this.deps.handleSuffix);
      const shownHandle = shown && !('error' in shown) ? shown.handle : undefined;
      if (parsed.handle === service[role].handle || parsed.handle === shownHandle) continue;
      if (!allowed.has(role)) {
        errors[role] = { key: 'errors.request.notAllowed', params: { role } };
        continue;
      }
      if (shownHandle !== undefined && shownHandle !== service[role].handle) {
        errors[role] = { key: 'errors.request.changedMeanwhile', params: { role, handle: service[role].handle } };
        continue;
      }
      const account = await this.deps.accounts.findByHandle(parsed.handle);
      if (!account) errors[role] = { key: 'errors.handle.unknown', params: { handle: parsed.handle } };
      else incoming.set(role, account);
    }
    if (Object.keys(errors).length > 0) throw new ValidationError(errors);
    if (incoming.size === 0) throw new ValidationError({ form: { key: 'errors.request.noChange' } });

    const changes: RoleChange[] = [...incoming].map(([role, account]) => ({ role, fromId: service[role].id, toId: account.id }));
    const planned = planRequests(requesterId, changes);

    // Billing: both the outgoing and the incoming billing contact must be up to date.
    const billing = incoming.get('billing');
    if (billing) {
      const outgoing = await this.deps.accounts.findById(service.billing.id);
      for (const account of [outgoing, billing]) {
        if (account?.billingOverdueSince != null) {
          errors.billing = { key: 'errors.request.billingOverdue', params: { handle: account.handle } };
          break;
        }
      }
    }
    // A request past its expiry no longer holds its roles, even before the sweep records it: it is
    // expired here, by the sweep's own code, so whichever runs first moves it and mails everyone.
    try {
      await this.expireDue({ serviceId: service.id });
    } catch (error) {
      // PostgreSQL ended this one of two transactions expiring the same requests (the sweep runs
      // too): the other does it, and until it commits the roles count as pending, as before.
      if (!isDeadlock(error)) throw error;
    }
    for (const [role, id] of await this.pendingRoles(knex, service.id, [...incoming.keys()])) {
      errors[role] = { key: 'errors.request.pending', params: { id, role } };
    }
    if (Object.keys(errors).length > 0) throw new ValidationError(errors);

    const now = this.deps.now();
    const expiresAt = now + this.deps.requestTtlMs;
    try {
      return await knex.transaction(async (trx) => {
        const created: ChangeRequest[] = [];
        const intents: MailIntent[] = [];
        for (const plan of planned) {
          const [row] = await trx('change_requests')
            .insert({
              service_id: service.id,
              requester_id: requesterId,
              from_account_id: plan.fromId,
              to_account_id: plan.toId,
              roles: plan.roles.join(','),
              state: 'pending',
              created_at: now,
              expires_at: expiresAt,
            })
            .returning(['id']);
          const requestId = (row as { id: number }).id;
          await trx('request_roles').insert(plan.roles.map((role) => ({ request_id: requestId, service_id: service.id, role, active: true })));
          const tokens = new Map<number, string>();
          await trx('request_parties').insert(
            plan.partyIds.map((accountId) => {
              const { token, hash } = newToken();
              tokens.set(accountId, token);
              return { request_id: requestId, account_id: accountId, token_hash: hash, token_issued_at: now };
            }),
          );
          await this.recordEvent(trx, requestId, 'created', null, 'pending', requesterId, ctx.ip);
          const request = (await this.load(trx, requestId)) as ChangeRequest;
          const people = await this.accountsById(trx, [plan.fromId, plan.toId, requesterId, ...plan.partyIds]);
          for (const partyId of plan.partyIds) {
            intents.push(this.intent('request.confirm', people.get(partyId) as Account, request, { token: tokens.get(partyId) }));
          }
          // The outgoing contact is always told, whether or not it is a party.
          if (!plan.partyIds.includes(plan.fromId)) intents.push(this.intent('request.inform', people.get(plan.fromId) as Account, request));
          created.push(request);
        }
        await this.deps.outbox.enqueue(trx, intents);
        return created;
      });
    } catch (error) {
      // Lost a race with a concurrent submission on the same role: the unique index said no.
      if (isUniqueViolation(error)) {
        const fields: Record<string, Message> = {};
        for (const [role, id] of await this.pendingRoles(knex, service.id, [...incoming.keys()])) {
          fields[role] = { key: 'errors.request.pending', params: { id, role } };
        }
        throw new ValidationError(Object.keys(fields).length > 0 ? fields : { form: { key: 'errors.request.conflict' } });
      }
      throw error;
    }
  }

  private async pendingRoles(db: Db, serviceId: number, roles: Role[]): Promise<Map<Role, number>> {
    if (roles.length === 0) return new Map();
    const rows = (await db('request_roles').where({ service_id: serviceId, active: true }).whereIn('role', roles).select('role', 'request_id')) as {
      role: Role;
      request_id: number;
    }[];
    return new Map(rows.map((row) => [row.role, row.request_id]));
  }

  // ---------------------------------------------------------------- reading

  private async load(db: Db, id: number): Promise<ChangeRequest | undefined> {
    const [request] = await this.loadMany(db, [id]);
    return request;
  }

  /**
   * The requests with their parties, in the order of `ids`.
   *
   * Each of the two queries answers one JSON array of tuples rather than one row object per
   * request or party: building row objects, column by column, in the database driver cost more
   * than the queries themselves when a sweep (the reminders' now) loads hundreds of requests.
   */
  private async loadMany(db: Db, ids: number[]): Promise<ChangeRequest[]> {
    if (ids.length === 0) return [];
    const list = idList(db);
    const idsJson = JSON.stringify(ids);
    const requestRows = jsonTuples<RequestTuple>(
      await db.raw(
        `SELECT ${jsonArrayAgg(db, REQUEST_TUPLE)} AS list
           FROM change_requests r
           JOIN services s ON s.id = r.service_id
           JOIN accounts q ON q.id = r.requester_id
           JOIN accounts f ON f.id = r.from_account_id
           JOIN accounts t ON t.id = r.to_account_id
          WHERE r.id IN ${list}`,
        [idsJson],
      ),
    );
    const partyRows = jsonTuples<PartyTuple>(
      await db.raw(`SELECT ${jsonArrayAgg(db, PARTY_TUPLE, 'p.id')} AS list FROM request_parties p WHERE p.request_id IN ${list}`, [idsJson]),
    );
    const byId = new Map<number, ChangeRequest>();
    // A party is the requester, the outgoing or the incoming account, whose handles come with the
    // requests; any other party's handle is looked up.
    const handles = new Map<number, string>();
    for (const row of requestRows) {
      const [id, serviceId, requesterId, fromId, toId, roles, state, failureReason, createdAt, expiresAt, decidedAt, serviceName, serviceType, requesterHandle, fromHandle, toHandle] = row;
      byId.set(Number(id), {
        id: Number(id),
        serviceId: Number(serviceId),
        serviceName,
        serviceType,
        roles: parseRoles(roles),
        state,
        failureReason,
        requester: { id: Number(requesterId), handle: requesterHandle },
        from: { id: Number(fromId), handle: fromHandle },
        to: { id: Number(toId), handle: toHandle },
        createdAt: Number(createdAt),
        expiresAt: Number(expiresAt),
        decidedAt: decidedAt === null ? null : Number(decidedAt),
        parties: [],
      });
      handles.set(Number(requesterId), requesterHandle).set(Number(fromId), fromHandle).set(Number(toId), toHandle);
    }
    const unknown = [...new Set(partyRows.map((party) => Number(party[1])).filter((id) => !handles.has(id)))];
    if (unknown.length > 0) {
      for (const row of (await db('accounts').whereIn('id', unknown).select('id', 'handle')) as { id: number; handle: string }[]) handles.set(Number(row.id), row.handle);
    }
    for (const [requestId, accountId, decision, decidedAt] of partyRows) {
      byId.get(Number(requestId))?.parties.push({
        accountId: Number(accountId),
        handle: handles.get(Number(accountId)) as string,
        decision,
        decidedAt: decidedAt === null ? null : Number(decidedAt),
      });
    }
    return ids.map((id) => byId.get(id)).filter((r): r is ChangeRequest => r !== undefined);
  }

  /** Whether the account may see the request: requester, a party, the outgoing or incoming contact, or the service's administrator. */
  private async isInvolved(db: Db, request: ChangeRequest, accountId: number): Promise<boolean> {
    if ([request.requester.id, request.from.id, request.to.id].includes(accountId)) return true;
    if (request.parties.some((party) => party.accountId === accountId)) return true;
    const service = await db('services').where({ id: request.serviceId }).first('admin_id');
    return (service as { admin_id: number } | undefined)?.admin_id === accountId;
  }

  async getForAccount(requestId: unknown, accountId: number): Promise<{ request: ChangeRequest; actions: RequestActions; events: RequestEvent[] }> {
    const id = parseRowId(requestId);
    const request = id === undefined ? undefined : await this.load(this.deps.knex, id);
    if (!request || !(await this.isInvolved(this.deps.knex, request, accountId))) throw new NotFoundError('errors.request.notFound');
    const events = (await this.deps.knex('request_events as e')
      .leftJoin('accounts as a', 'a.id', 'e.actor_id')
      .where('e.request_id', request.id)
      .orderBy([{ column: 'e.at' }, { column: 'e.id' }])
      .select('e.event', 'e.from_state', 'e.to_state', 'a.handle as actor_handle', 'e.at')) as {
      event: string;
      from_state: RequestState | null;
      to_state: RequestState;
      actor_handle: string | null;
      at: number;
    }[];
    return {
      request,
      actions: await this.actionsFor(request, accountId),
      events: events.map((e) => ({ event: e.event, fromState: e.from_state, toState: e.to_state, actorHandle: e.actor_handle, at: Number(e.at) })),
    };
  }

  private async actionsFor(request: ChangeRequest, accountId: number, adminIds?: Map<number, number>): Promise<RequestActions> {
    const live = request.state === 'pending' && request.expiresAt > this.deps.now();
    const party = request.parties.find((p) => p.accountId === accountId);
    const adminId =
      adminIds?.get(request.serviceId) ??
      ((await this.deps.knex('services').where({ id: request.serviceId }).first('admin_id')) as { admin_id: number } | undefined)?.admin_id;
    return {
      canDecide: live && !!party && party.decision === null,
      canResend: live && !!party && party.decision === null,
      // Past its expiry a request is left to the sweep, which records it as expired.
      canCancel: live && (request.requester.id === accountId || adminId === accountId),
      pastExpiry: request.state === 'pending' && !live,
    };
  }

  /** "My requests": every request the account is involved in, pending first, then the newest. */
  async listForAccount(accountId: number, options: { state?: RequestState; page?: number }) {
    const { knex } = this.deps;
    // One indexed lookup per way of being involved, united: written as one condition with OR and
    // EXISTS, it made both databases read every request there is (400 ms for 200,000 of them).
    const involved = `SELECT id FROM change_requests WHERE requester_id = ?
      UNION SELECT id FROM change_requests WHERE from_account_id = ?
      UNION SELECT id FROM change_requests WHERE to_account_id = ?
      UNION SELECT request_id FROM request_parties WHERE account_id = ?
      UNION SELECT c.id FROM services s JOIN change_requests c ON c.service_id = s.id WHERE s.admin_id = ?`;
    const scope = (builder: Knex.QueryBuilder) => {
      builder.whereRaw(`r.id IN (${involved})`, [accountId, accountId, accountId, accountId, accountId]);
      if (options.state) builder.where('r.state', options.state);
      return builder;
    };
    const countRow = (await scope(knex('change_requests as r')).count({ n: '*' }).first()) as { n: number | string } | undefined;
    const total = Number(countRow?.n ?? 0);
    const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const page = Math.min(Math.max(1, options.page ?? 1), pageCount);
    const pageIds = (await scope(knex('change_requests as r'))
      .select('r.id')
      .orderByRaw("CASE WHEN r.state = 'pending' THEN 0 ELSE 1 END")
      .orderBy('r.created_at', 'desc')
      .orderBy('r.id', 'desc')
      .limit(PAGE_SIZE)
      .offset((page - 1) * PAGE_SIZE)) as { id: number }[];
    const requests = await this.loadMany(knex, pageIds.map((row) => row.id));
    const serviceIds = [...new Set(requests.map((r) => r.serviceId))];
    const admins = (await knex('services').whereIn('id', serviceIds).select('id', 'admin_id')) as { id: number; admin_id: number }[];
    const adminIds = new Map(admins.map((row) => [row.id, row.admin_id]));
    const rows = await Promise.all(requests.map(async (request) => ({ request, actions: await this.actionsFor(request, accountId, adminIds) })));
    return { rows, total, page, pageCount, pageSize: PAGE_SIZE };
  }

  /**
   * For the confirmation page: the request if the account is involved; otherwise, if the token is
   * a live token of this request, only the handles it is for (possessing the token proves access
   * to that mailbox); otherwise NotFound.
   */
  async viewForConfirmation(
    requestId: unknown,
    accountId: number,
    token: unknown,
  ): Promise<{ request: ChangeRequest; actions: RequestActions } | { wrongAccount: string[] }> {
    const id = parseRowId(requestId);
    const request = id === undefined ? undefined : await this.load(this.deps.knex, id);
    // Another party's live token (a shared mailbox, a forwarded mail): say whose it is, to anyone
    // logged in as someone else, rather than "invalid code" to a party or "not found" to others.
    const owner = request && looksLikeToken(token) ? await this.tokenOwner(request.id, token) : undefined;
    if (owner && owner.accountId !== accountId) return { wrongAccount: [owner.handle] };
    if (request && (await this.isInvolved(this.deps.knex, request, accountId))) {
      return { request, actions: await this.actionsFor(request, accountId) };
    }
    throw new NotFoundError('errors.request.notFound');
  }

  /** The party whose live token `token` is on this request (pending, not past its expiry), if any. */
  private async tokenOwner(requestId: number, token: string): Promise<{ accountId: number; handle: string } | undefined> {
    const party = (await this.deps.knex('request_parties as p')
      .join('accounts as a', 'a.id', 'p.account_id')
      .join('change_requests as r', 'r.id', 'p.request_id')
      .where({ 'p.request_id': requestId, 'p.token_hash': hashToken(token.trim()), 'r.state': 'pending' })
      .where('r.expires_at', '>', this.deps.now())
      .first('p.account_id', 'a.handle')) as { account_id: number; handle: string } | undefined;
    return party && { accountId: Number(party.account_id), handle: party.handle };
  }

  // ---------------------------------------------------------------- decisions

  /**
   * A party accepts or refuses with its token. The token is consumed by one conditional UPDATE,
   * so two simultaneous posts cannot both succeed; the second acceptance applies the change in
   * the same transaction.
   */
  async decide(requestId: unknown, accountId: number, input: { token: unknown; decision: unknown }, ctx: RequestContext): Promise<DecisionOutcome> {
    const id = parseRowId(requestId);
    if (!isDecision(input.decision)) throw new BadRequestError('errors.badRequest');
    const decision = input.decision;
    const token = typeof input.token === 'string' ? input.token.trim() : '';
    if (token === '') throw new ValidationError({ token: { key: 'errors.token.required' } });
    const view = await this.viewForConfirmation(requestId, accountId, token);
    if ('wrongAccount' in view) throw new ForbiddenError('errors.token.wrongAccount', { handle: view.wrongAccount.join(', ') });
    const { request } = view;
    if (id === undefined) throw new NotFoundError('errors.request.notFound');
    const party = request.parties.find((p) => p.accountId === accountId);
    if (!party) throw new ForbiddenError('errors.token.notAParty', { handles: request.parties.map((p) => p.handle).join(', ') });
    if (!looksLikeToken(token)) throw new ValidationError({ token: { key: 'errors.token.invalid' } });

    return this.deps.knex.transaction(async (trx) => {
      const now = this.deps.now();
      // Take the request's row lock first, so two parties deciding at once are serialized.
      await trx('change_requests').where({ id }).update({ state: trx.ref('state') });
      const current = (await trx('change_requests').where({ id }).first('state', 'expires_at')) as { state: RequestState; expires_at: number };
      if (current.state !== 'pending') throw new ValidationError({ token: { key: 'errors.token.closed', params: { state: current.state } } });
      if (Number(current.expires_at) <= now) throw new ValidationError({ token: { key: 'errors.token.expired' } });
      const hash = hashToken(token);
      const consumed = await trx('request_parties')
        .where({ request_id: id, account_id: accountId, token_hash: hash })
        .whereNull('decision')
        .update({ token_hash: null, replaced_token_hash: null, decision, decided_at: now });
      if (consumed !== 1) {
        const mine = (await trx('request_parties').where({ request_id: id, account_id: accountId }).first('decision', 'replaced_token_hash')) as {
          decision: string | null;
          replaced_token_hash: string | null;
        };
        // The code of an older mail, replaced by a reminder or a resend: not a wrong guess.
        const replaced = mine.replaced_token_hash === hash;
        throw new ValidationError({ token: { key: mine.decision ? 'errors.token.used' : replaced ? 'errors.token.replaced' : 'errors.token.invalid' } });
      }
      if (decision === 'refuse') {
        const refused = await this.transitionOne(trx, id, 'refused', { actorId: accountId, ip: ctx.ip, event: 'refused' });
        return { outcome: 'refused', request: refused as ChangeRequest };
      }
      await this.recordEvent(trx, id, 'accepted', 'pending', 'pending', accountId, ctx.ip);
      const other = (await trx('request_parties as p')
        .join('accounts as a', 'a.id', 'p.account_id')
        .where('p.request_id', id)
        .whereNot('p.account_id', accountId)
        .first('p.decision', 'a.handle')) as { decision: string | null; handle: string };
      if (other.decision !== 'accept') {
        return { outcome: 'waiting', request: (await this.load(trx, id)) as ChangeRequest, waitingFor: other.handle };
      }
      return this.apply(trx, id, accountId, ctx);
    });
  }

  /** Both parties agreed: re-check and change the contacts, or fail with the reason. */
  private async apply(trx: Knex.Transaction, id: number, actorId: number, ctx: RequestContext): Promise<DecisionOutcome> {
    const row = (await trx('change_requests').where({ id }).first()) as RequestRow;
    const roles = parseRoles(row.roles);
    // Locked on PostgreSQL, so that the checks below and the guarded UPDATE see the same contacts:
    // a concurrent hand-over of the administrator role must not slip between them. (SQLite write
    // transactions run one at a time.)
    const serviceQuery = trx('services').where({ id: row.service_id });
    const service = (await (trx.client.config.client === 'pg' ? serviceQuery.forUpdate() : serviceQuery).first()) as Record<string, number>;
    let reason: string | undefined;
    // The requester's right to ask holds at the end too: an administrator who handed the role over
    // meanwhile, or a contact replaced since, no longer decides who holds these roles.
    const requesterRoles = ROLES.filter((role) => service[roleColumn[role]] === row.requester_id);
    const requesterMay = changeableRoles(requesterRoles);
    if (roles.some((role) => service[roleColumn[role]] !== row.from_account_id)) reason = 'contactsChanged';
    else if (roles.some((role) => !requesterMay.has(role))) reason = 'requesterNoLongerAllowed';
    else if (touchesBilling(roles)) {
      const overdue = await trx('accounts').whereIn('id', [row.from_account_id, row.to_account_id]).whereNotNull('billing_overdue_since').first('id');
      if (overdue) reason = 'billingOverdue';
    }
    if (reason) {
      const failed = await this.transitionOne(trx, id, 'failed', { actorId, ip: ctx.ip, event: 'failed', failureReason: reason });
      return { outcome: 'failed', request: failed as ChangeRequest, reason };
    }
    const update: Record<string, number> = { updated_at: this.deps.now() };
    let guarded = trx('services').where({ id: row.service_id });
    for (const role of roles) {
      update[roleColumn[role]] = row.to_account_id;
      guarded = guarded.where(roleColumn[role], row.from_account_id);
    }
    const changed = await guarded.update(update);
    if (changed !== 1) {
      const failed = await this.transitionOne(trx, id, 'failed', { actorId, ip: ctx.ip, event: 'failed', failureReason: 'contactsChanged' });
      return { outcome: 'failed', request: failed as ChangeRequest, reason: 'contactsChanged' };
    }
    const done = await this.transitionOne(trx, id, 'done', { actorId, ip: ctx.ip, event: 'applied' });
    return { outcome: 'done', request: done as ChangeRequest };
  }

  /**
   * Moves pending requests to a final state: conditional on still being pending, releases their
   * roles, kills their tokens, records the event and mails everyone involved. Returns the ids of
   * the requests that actually moved, in the order given.
   */
  private async transition(
    trx: Knex.Transaction,
    ids: number[],
    to: Exclude<RequestState, 'pending'>,
    options: { actorId: number | null; ip: string | null; event: string; failureReason?: string; now?: number },
  ): Promise<number[]> {
    const now = options.now ?? this.deps.now();
    const moved: number[] = [];
    for (let i = 0; i < ids.length; i += TRANSITION_CHUNK) {
      const chunk = ids.slice(i, i + TRANSITION_CHUNK);
      // Conditional on still being pending; RETURNING tells which requests this transaction moved.
      const changed = (await trx('change_requests')
        .whereRaw(`id IN ${idList(trx)}`, [JSON.stringify(chunk)])
        .where('state', 'pending')
        .update({ state: to, decided_at: now, failure_reason: options.failureReason ?? null }, ['id'])) as { id: number }[];
      if (changed.length === 0) continue;
      const changedIds = new Set(changed.map((row) => Number(row.id)));
      const pendingIds = [...new Set(chunk)].filter((id) => changedIds.has(id));
      const pendingList = JSON.stringify(pendingIds);
      await trx('request_roles').whereRaw(`request_id IN ${idList(trx)}`, [pendingList]).update({ active: false });
      await trx('request_parties').whereRaw(`request_id IN ${idList(trx)}`, [pendingList]).whereNotNull('token_hash').update({ token_hash: null });
      // One event per moved request, all alike but for the request: selected rather than sent row by row.
      await trx.raw(
        `INSERT INTO request_events (request_id, event, from_state, to_state, actor_id, ip, at)
         SELECT id, ?, 'pending', ?, CAST(? AS integer), ?, CAST(? AS bigint) FROM ${idList(trx)} moved ORDER BY id`,
        [options.event, to, options.actorId, options.ip, now, pendingList],
      );
      await this.deps.outbox.enqueueAboutRequests(trx, `request.${to}` as RequestMailKind, pendingIds, options.actorId);
      moved.push(...pendingIds);
    }
    return moved;
  }

  /** Moves one request (see transition) and answers it as it is now, or undefined if it was no longer pending. */
  private async transitionOne(
    trx: Knex.Transaction,
    id: number,
    to: Exclude<RequestState, 'pending'>,
    options: { actorId: number | null; ip: string | null; event: string; failureReason?: string },
  ): Promise<ChangeRequest | undefined> {
    const [moved] = await this.transition(trx, [id], to, options);
    return moved === undefined ? undefined : this.load(trx, moved);
  }

  // ---------------------------------------------------------------- resend, cancel

  /** A new token mail for the logged-in party; the old token dies. */
  async resend(requestId: unknown, accountId: number, ctx: RequestContext): Promise<ChangeRequest> {
    const { request, actions } = await this.getForAccount(requestId, accountId);
    if (!actions.canResend) throw new ValidationError({ form: { key: 'errors.request.cannotResend' } });
    const limit = this.deps.resendLimitPerHour ?? 3;
    const now = this.deps.now();
    const recent = (await this.deps.knex('request_events')
      .where({ request_id: request.id, event: 'resent', actor_id: accountId })
      .where('at', '>', now - 3600_000)
      .count({ n: '*' })
      .first()) as { n: number | string };
    if (Number(recent.n) >= limit) {
      const oldest = (await this.deps.knex('request_events')
        .where({ request_id: request.id, event: 'resent', actor_id: accountId })
        .where('at', '>', now - 3600_000)
        .min({ at: 'at' })
        .first()) as { at: number };
      throw new RateLimitedError(Math.ceil((Number(oldest.at) + 3600_000 - now) / 1000));
    }
    return this.deps.knex.transaction(async (trx) => {
      const { token, hash } = newToken();
      // The request's row lock first, as decide and the sweeps take it, and conditional on still
      // being pending: on PostgreSQL a request closed while this waited for its row is seen closed
      // (a condition on another table, in the UPDATE below, would be read from before the wait).
      const stillPending = await trx('change_requests').where({ id: request.id, state: 'pending' }).update({ state: trx.ref('state') });
      const updated =
        stillPending === 1
          ? await trx('request_parties')
              .where({ request_id: request.id, account_id: accountId })
              .whereNull('decision')
              .update({ token_hash: hash, token_issued_at: now, replaced_token_hash: trx.ref('token_hash') })
          : 0;
      if (updated !== 1) throw new ValidationError({ form: { key: 'errors.request.cannotResend' } });
      await this.recordEvent(trx, request.id, 'resent', 'pending', 'pending', accountId, ctx.ip);
      const account = (await this.accountsById(trx, [accountId])).get(accountId) as Account;
      await this.deps.outbox.enqueue(trx, [this.intent('request.confirm', account, request, { token })]);
      return request;
    });
  }

  /** Withdraws a pending request: its requester or the service's administrator. */
  async cancel(requestId: unknown, accountId: number, ctx: RequestContext): Promise<ChangeRequest> {
    const { request, actions } = await this.getForAccount(requestId, accountId);
    if (!actions.canCancel) throw new ValidationError({ form: { key: 'errors.request.cannotCancel' } });
    return this.deps.knex.transaction(async (trx) => {
      const cancelled = await this.transitionOne(trx, request.id, 'cancelled', { actorId: accountId, ip: ctx.ip, event: 'cancelled' });
      if (!cancelled) throw new ValidationError({ form: { key: 'errors.request.cannotCancel' } });
      return cancelled;
    });
  }

  // ---------------------------------------------------------------- sweeps (worker)

  /**
   * Expires pending requests past their time (of one service, or all), in batches; idempotent.
   * Returns how many moved. `concurrency` batches run at once, each in its own transaction on its
   * own connection: by default two on PostgreSQL, whose server then works on as many cores, and
   * one on SQLite, which writes one transaction at a time anyway.
   */
  async expireDue(options: { batchSize?: number; serviceId?: number; concurrency?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 1000;
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? (this.deps.knex.client.config.client === 'pg' ? 2 : 1)));
    // The due requests of several rounds are read at once, and each connection takes the next
    // batch as soon as it is done with one: when every batch of a round had to end before the
    // next round was read, the faster connection waited for the slower one.
    const readAhead = batchSize * concurrency * 4;
    let total = 0;
    for (;;) {
      const now = this.deps.now();
      const query = this.deps.knex('change_requests').where('state', 'pending').where('expires_at', '<=', now);
      if (options.serviceId !== undefined) query.where('service_id', options.serviceId);
      const due = (await query
        // One order, so that a sweep and a submission expiring the same requests lock them alike.
        .orderBy(['expires_at', 'id'])
        .limit(readAhead)
        .select('id')) as { id: number }[];
      if (due.length === 0) return total;
      // Disjoint batches: they lock different requests, and what they write about them (roles,
      // tokens, events, mails) belongs to their own requests only. No trigger updates a row two
      // of them share. If one fails, no further batch is begun; the ones already running still
      // commit, and the next sweep takes up the rest.
      const batches: number[][] = [];
      for (let i = 0; i < due.length; i += batchSize) batches.push(due.slice(i, i + batchSize).map((row) => row.id));
      let failure: { error: unknown } | undefined;
      const connection = async () => {
        for (let ids = batches.shift(); ids !== undefined && failure === undefined; ids = batches.shift()) {
          try {
            const batch = ids;
            const moved = await this.deps.knex.transaction((trx) => this.transition(trx, batch, 'expired', { actorId: null, ip: null, event: 'expired', now }));
            total += moved.length;
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, connection));
      if (failure) throw failure.error;
      if (due.length < readAhead) return total;
    }
  }

  /** Once per request, `remindBeforeMs` before expiry: a fresh token to each party that has not decided. */
  async remindDue(remindBeforeMs: number, options: { batchSize?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 500;
    let total = 0;
    for (;;) {
      const now = this.deps.now();
      const due = (await this.deps.knex('change_requests')
        .where('state', 'pending')
        .whereNull('reminded_at')
        .where('expires_at', '>', now)
        .where('expires_at', '<=', now + remindBeforeMs)
        // A request whose whole life fits in the window gets none: its first mail is as recent,
        // and the reminder's fresh token would only kill the one that mail carries.
        .whereRaw('created_at < expires_at - CAST(? AS bigint)', [remindBeforeMs])
        .limit(batchSize)
        .select('id')) as { id: number }[];
      if (due.length === 0) return total;
      total += await this.deps.knex.transaction(async (trx) => {
        const ids = due.map((row) => row.id);
        // Claimed by one conditional UPDATE: another worker may have reminded some of these
        // meanwhile, and a party or the sweep may have closed them. On PostgreSQL the UPDATE waits
        // for a row another transaction holds and then checks its conditions again; a SELECT
        // followed by an UPDATE would remind a request that closed in between.
        const claimed = (await trx('change_requests')
          .whereIn('id', ids)
          .where('state', 'pending')
          .whereNull('reminded_at')
          .update({ reminded_at: now }, ['id'])) as { id: number }[];
        const claimedIds = claimed.map((row) => Number(row.id));
        if (claimedIds.length === 0) return 0;
        const requests = await this.loadMany(trx, claimedIds);
        const people = await this.accountsById(trx, requests.flatMap((r) => r.parties.map((p) => p.accountId)));
        const intents: MailIntent[] = [];
        for (const request of requests) {
          for (const party of request.parties.filter((p) => p.decision === null)) {
            const { token, hash } = newToken();
            const renewed = await trx('request_parties')
              .where({ request_id: request.id, account_id: party.accountId })
              .whereNull('decision')
              .update({ token_hash: hash, token_issued_at: now, replaced_token_hash: trx.ref('token_hash') });
            // Only a code that was stored is mailed.
            if (renewed === 1) intents.push(this.intent('request.reminder', people.get(party.accountId) as Account, request, { token }));
          }
          await this.recordEvent(trx, request.id, 'reminded', 'pending', 'pending', null, null);
        }
        await this.deps.outbox.enqueue(trx, intents);
        return claimedIds.length;
      });
      if (due.length < batchSize) return total;
    }
  }

  // ---------------------------------------------------------------- helpers

  private async recordEvent(db: Db, requestId: number, event: string, from: RequestState | null, to: RequestState, actorId: number | null, ip: string | null) {
    await db('request_events').insert({ request_id: requestId, event, from_state: from, to_state: to, actor_id: actorId, ip, at: this.deps.now() });
  }

  private async accountsById(db: Db, ids: number[]): Promise<Map<number, Account>> {
    const unique = [...new Set(ids)];
    const result = new Map<number, Account>();
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await db('accounts').whereIn('id', unique.slice(i, i + 500)).select(ACCOUNT_COLUMNS);
      for (const row of rows) result.set(row.id, toAccount(row));
    }
    return result;
  }

  private intent(kind: RequestMailKind, account: Account, request: ChangeRequest, extra: { token?: string; actorHandle?: string | null } = {}): MailIntent {
    return {
      kind,
      recipient: { accountId: account.id, handle: account.handle, name: account.name, email: account.email, locale: account.locale, timeZone: account.timeZone },
      payload: requestMailPayload(request, account.handle, extra),
    };
  }
}

export type { Service };
