// The rules of a change of contacts, as plain functions (DESIGN.md "The change request").
import { ROLES, type Role } from './roles.js';

export const REQUEST_STATES = ['pending', 'done', 'refused', 'expired', 'cancelled', 'failed'] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export function isRequestState(value: unknown): value is RequestState {
  return typeof value === 'string' && (REQUEST_STATES as readonly string[]).includes(value);
}

/** The roles a user may change on a service: an administrator all three, the others only their own. */
export function changeableRoles(myRoles: readonly Role[]): Set<Role> {
  if (myRoles.includes('admin')) return new Set(ROLES);
  return new Set(myRoles.filter((role) => role === 'tech' || role === 'billing'));
}

export interface RoleChange {
  role: Role;
  fromId: number;
  toId: number;
}

export interface PlannedRequest {
  fromId: number;
  toId: number;
  roles: Role[];
  /** The two distinct accounts whose consent is needed. */
  partyIds: [number, number];
}

/**
 * The two parties of a request: the requester and the incoming account — except when the requester
 * takes a role back for itself, then the requester and the account being removed.
 */
export function partiesOf(requesterId: number, fromId: number, toId: number): [number, number] {
  if (fromId === toId) throw new Error('a request must move a role between two different accounts');
  return requesterId === toId ? [requesterId, fromId] : [requesterId, toId];
}

/** One request per (outgoing, incoming) pair; roles moving between the same pair share it. */
export function planRequests(requesterId: number, changes: readonly RoleChange[]): PlannedRequest[] {
  const byPair = new Map<string, PlannedRequest>();
  for (const change of changes) {
    if (change.fromId === change.toId) continue;
    const key = `${change.fromId}->${change.toId}`;
    let planned = byPair.get(key);
    if (!planned) {
      planned = { fromId: change.fromId, toId: change.toId, roles: [], partyIds: partiesOf(requesterId, change.fromId, change.toId) };
      byPair.set(key, planned);
    }
    planned.roles.push(change.role);
  }
  for (const planned of byPair.values()) planned.roles = ROLES.filter((role) => planned.roles.includes(role));
  return [...byPair.values()];
}

/** Billing changes need every account they touch to be up to date with payments. */
export function touchesBilling(roles: readonly Role[]): boolean {
  return roles.includes('billing');
}

export type Decision = 'accept' | 'refuse';

export function isDecision(value: unknown): value is Decision {
  return value === 'accept' || value === 'refuse';
}
