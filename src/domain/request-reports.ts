// Operator reports on change requests (the CLI's requests:list): every request, whoever it concerns,
// with its service and the handles involved. Read-only; the consent flow itself lives elsewhere.
import type { Knex } from 'knex';
import { isRequestState, REQUEST_STATES, type RequestState } from './consent-rules.js';
import { ValidationError } from './errors.js';
import { isRole, type Role } from './roles.js';

export { REQUEST_STATES, type RequestState };

export interface RequestReportFilter {
  /** One of REQUEST_STATES; undefined or empty lists every state. */
  state?: unknown;
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

/** Checks the filter; a state outside REQUEST_STATES is a ValidationError on `state`. */
export function parseRequestFilter(filter: RequestReportFilter): { state: RequestState | undefined } {
  if (filter.state === undefined || filter.state === '') return { state: undefined };
  const state = typeof filter.state === 'string' ? filter.state.trim().toLowerCase() : filter.state;
  if (!isRequestState(state)) {
    // Only the operator's CLI shows this message, so its key lives in the CLI catalogue.
    throw new ValidationError({ state: { key: 'cli.requests.badState', params: { states: REQUEST_STATES.join(', ') } } });
  }
  return { state };
}

/** Requests matching the filter, oldest first (a terminal shows the newest next to the prompt). */
export async function listRequests(knex: Knex, filter: RequestReportFilter = {}): Promise<RequestReportRow[]> {
  const { state } = parseRequestFilter(filter);
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
    .orderBy([{ column: 'cr.created_at' }, { column: 'cr.id' }]);
  if (state) query.where('cr.state', state);
  const rows = (await query) as JoinedRow[];
  return rows.map((row) => ({
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
}
