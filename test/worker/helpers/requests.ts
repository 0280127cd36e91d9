// Change requests made in the test process (real domain services on the worker's database), and
// readers for the mail that comes out of them: outbox rows on one side, SMTP messages on the other.
import assert from 'node:assert/strict';
import type { Knex } from 'knex';
import type { ParsedMail } from 'mailparser';
import type { Account } from '../../../src/domain/accounts.js';
import type { ChangeRequest } from '../../../src/domain/change-requests.js';
import { DomainError, ValidationError } from '../../../src/domain/errors.js';
import type { Domain } from '../../../src/domain/index.js';
import type { Service } from '../../../src/domain/services.js';
import { addAccount } from '../../helpers/test-app.js';
import { TOKEN } from '../../mail/mail-helpers.js';
import { WORKER_PUBLIC_URL } from './worker-process.js';

export const CTX = { ip: '127.0.0.1' } as const;

export interface TechChange {
  admin: Account;
  oldTech: Account;
  newTech: Account;
  service: Service;
  request: ChangeRequest;
}

/**
 * The administrator names a new technical contact: the parties are the administrator and the new
 * contact (request.confirm each), the old contact is told (request.inform).
 */
export async function requestNewTech(domain: Domain): Promise<TechChange> {
  const admin = await addAccount(domain);
  const oldTech = await addAccount(domain);
  const newTech = await addAccount(domain);
  const service = await domain.services.create({
    name: `site-${admin.handle}.pt`,
    type: 'domain',
    admin: admin.handle,
    tech: oldTech.handle,
    billing: admin.handle,
  });
  const [request] = await domain.requests.submit(admin.id, service.id, { tech: newTech.handle }, CTX);
  assert.ok(request, 'one request created');
  return { admin, oldTech, newTech, service, request };
}

export interface OutboxMail {
  id: number;
  kind: string;
  requestId: number | null;
  to: string;
  status: string;
  attempts: number;
  token: string | undefined;
}

export async function outboxMails(knex: Knex, filter: { kind?: string; requestId?: number } = {}): Promise<OutboxMail[]> {
  let query = knex('outbox').orderBy('id');
  if (filter.kind) query = query.where('kind', filter.kind);
  if (filter.requestId !== undefined) query = query.where('request_id', filter.requestId);
  const rows = (await query.select('id', 'kind', 'request_id', 'recipient_address', 'status', 'attempts', 'payload')) as {
    id: number;
    kind: string;
    request_id: number | null;
    recipient_address: string;
    status: string;
    attempts: number;
    payload: string;
  }[];
  return rows.map((row) => ({
    id: Number(row.id),
    kind: row.kind,
    requestId: row.request_id === null ? null : Number(row.request_id),
    to: row.recipient_address,
    status: row.status,
    attempts: Number(row.attempts),
    token: (JSON.parse(row.payload) as { token?: string }).token,
  }));
}

/** Every confirmation token the outbox ever held (to check none of them reaches a log). */
export async function allTokens(knex: Knex): Promise<string[]> {
  return (await outboxMails(knex)).map((mail) => mail.token).filter((token): token is string => token !== undefined);
}

export function messageIdOf(outboxId: number): string {
  return `<outbox-${outboxId}@${new URL(WORKER_PUBLIC_URL).hostname}>`;
}

/** The outbox id behind a received message, from its Message-ID. */
export function outboxIdOf(mail: ParsedMail): number {
  const match = /^<outbox-(\d+)@contacts\.test>$/.exec(mail.messageId ?? '');
  assert.ok(match?.[1], `unexpected Message-ID ${mail.messageId}`);
  return Number(match[1]);
}

/** How many times each outbox id was received. */
export function receivedCounts(messages: ParsedMail[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const mail of messages) counts.set(outboxIdOf(mail), (counts.get(outboxIdOf(mail)) ?? 0) + 1);
  return counts;
}

const LINK = /https?:\/\/[^\s"<>]+/g;

/** The links of the text part. */
export function linksOf(mail: ParsedMail): string[] {
  return mail.text?.match(LINK) ?? [];
}

/** The token of the (single) confirmation link of a confirm/reminder mail. */
export function tokenFromLink(mail: ParsedMail, requestId: number): string {
  const links = linksOf(mail);
  assert.equal(links.length, 1, `exactly one link in "${mail.subject}": ${links.join(' ')}`);
  const prefix = `${WORKER_PUBLIC_URL}/requests/${requestId}/confirm?token=`;
  const link = links[0] ?? '';
  assert.ok(link.startsWith(prefix), `confirmation link ${link}`);
  return link.slice(prefix.length);
}

/** The message key of a refused decision (the domain's typed errors carry keys, not prose). */
export async function refusalKey(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof ValidationError) return Object.values(error.fields)[0]?.key ?? error.messageKey;
    if (error instanceof DomainError) return error.messageKey;
    throw error;
  }
  assert.fail('the decision was accepted');
}

/**
 * Many due confirm mails at once (multi-row inserts, as Outbox.enqueue writes them), addressed
 * `${prefix}${i}@example.test`; returns their ids in order. No request rows are needed.
 */
export async function insertManyMails(knex: Knex, count: number, prefix: string): Promise<number[]> {
  const at = Date.now();
  const payload = JSON.stringify({
    requestId: 42,
    serviceName: 'example.pt',
    serviceType: 'domain',
    roles: ['tech'],
    fromHandle: 'aa111111-ovh',
    toHandle: 'bb222222-ovh',
    requesterHandle: 'aa111111-ovh',
    partyHandles: ['aa111111-ovh', 'bb222222-ovh'],
    expiresAt: at + 3600_000,
    recipientHandle: 'bb222222-ovh',
    failureReason: null,
    actorHandle: null,
    token: TOKEN,
  });
  const rows = Array.from({ length: count }, (_, i) => ({
    kind: 'request.confirm',
    request_id: null,
    recipient_address: `${prefix}${i}@example.test`,
    recipient_name: `Recipient ${i}`,
    locale: 'en',
    payload,
    status: 'pending',
    attempts: 0,
    next_attempt_at: at,
    created_at: at,
  }));
  // Chunks small enough for SQLite's limit on bound variables.
  for (let i = 0; i < rows.length; i += 50) await knex('outbox').insert(rows.slice(i, i + 50));
  const ids = (await knex('outbox').where('recipient_address', 'like', `${prefix}%@example.test`).orderBy('id').pluck('id')) as number[];
  return ids.map(Number);
}
