// Operator reports on change requests (the CLI's requests:list): every request, whoever it concerns,
// with its service and the handles involved. Read-only; the consent flow itself lives elsewhere.
import type { Knex } from 'knex';
import { isRequestState, REQUEST_STATES, type RequestState } from './consent-rules.js';
import { ValidationError, type Message } from './errors.js';
import { isRole, type Role } from './roles.js';

export { REQUEST_STATES, type RequestState };

export interface RequestReportFilter {
  /** One of REQUEST_STATES; undefined or empty lists every state. */
  state?: unknown;
  /** How many of the newest matching requests to list: 1 to MAX_REPORT_LIMIT, DEFAULT_REPORT_LIMIT if undefined. */
  limit?: number;
}

export const DEFAULT_REPORT_LIMIT = 50;
export const MAX_REPORT_LIMIT = 1000;

/** The newest requests matching a filter, and how many match in all. */
export interface RequestReport {
  rows: RequestReportRow[];
  total: number;
}

export interface RequestReportRow {
  id: number;
  state: string;
  serviceId: number;
  serviceName: string;
  serviceType: string;
  roles: Role[];
  fromHandle: string;
  toHandle: string;
  requesterHandle: string;
  failureReason: string | null;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
}

interface JoinedRow {
  id: number;
  state: string;
  roles: string;
  failure_reason: string | null;
  created_at: number | string;
  expires_at: number | string;
  decided_at: number | string | null;
  service_id: number;
  service_name: string;
  service_type: string;
  from_handle: string;
  to_handle: string;
  requester_handle: string;
}

/**
 * Checks the filter: a state outside REQUEST_STATES is a ValidationError on `state`, a limit that
 * is not a whole number from 1 to MAX_REPORT_LIMIT one on `limit`. Only the operator's CLI shows
 * these messages, so their keys live in the CLI catalogue.
 */
export function parseRequestFilter(filter: RequestReportFilter): { state: RequestState | undefined; limit: number } {
  const errors: Record<string, Message> = {};
  const limit = filter.limit ?? DEFAULT_REPORT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_REPORT_LIMIT) {
    errors.limit = { key: 'cli.requests.badLimit', params: { max: MAX_REPORT_LIMIT } };
  }
  let state: RequestState | undefined;
  if (filter.state !== undefined && filter.state !== '') {
    const folded = typeof filter.state === 'string' ? filter.state.trim().toLowerCase() : filter.state;
    if (isRequestState(folded)) state = folded;
    else errors.state = { key: 'cli.requests.badState', params: { states: REQUEST_STATES.join(', ') } };
  }
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return { state, limit };
}

/**
 * The newest `limit` requests matching the filter, listed oldest first (a terminal shows the
 * newest next to the prompt), and how many match in all.
 */
export async function listRequests(knex: Knex, filter: RequestReportFilter = {}): Promise<RequestReport> {
  const { state, limit } = parseRequestFilter(filter);
  const query = knex('change_requests as cr')
    .join('services as s', 's.id', 'cr.service_id')
    .join('accounts as f', 'f.id', 'cr.from_account_id')
    .join('accounts as t', 't.id', 'cr.to_account_id')
    .join('accounts as r', 'r.id', 'cr.requester_id')
    .select(
      'cr.id',
      'cr.state',
      'cr.roles',
      'cr.failure_reason',
      'cr.created_at',
      'cr.expires_at',
      'cr.decided_at',
      's.id as service_id',
      's.name as service_name',
      's.type as service_type',
      'f.handle as from_handle',
      't.handle as to_handle',
      'r.handle as requester_handle',
    )
    .orderBy([{ column: 'cr.created_at', order: 'desc' }, { column: 'cr.id', order: 'desc' }])
    .limit(limit);
  const count = knex('change_requests').count({ n: '*' });
  if (state) {
    query.where('cr.state', state);
    count.where('state', state);
  }
  const [newest, counted] = await Promise.all([query as Promise<JoinedRow[]>, count.first() as Promise<{ n: number | string } | undefined>]);
  const rows = newest.reverse().map((row) => ({
    id: row.id,
    state: row.state,
    serviceId: row.service_id,
    serviceName: row.service_name,
    serviceType: row.service_type,
    roles: row.roles.split(',').map((role) => role.trim()).filter(isRole),
    fromHandle: row.from_handle,
    toHandle: row.to_handle,
    requesterHandle: row.requester_handle,
    failureReason: row.failure_reason,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
  }));
  return { rows, total: Number(counted?.n ?? 0) };
}
