// The domain side of mail: what to tell whom, written to the outbox table inside the caller's
// transaction. Rendering and sending belong to src/mail and the worker.
import type { Knex } from 'knex';
import type { Locale, Role } from './roles.js';

export const MAIL_KINDS = [
  'request.confirm',
  'request.reminder',
  'request.inform',
  'request.done',
  'request.refused',
  'request.cancelled',
  'request.expired',
  'request.failed',
] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface MailRecipient {
  accountId: number;
  handle: string;
  name: string;
  email: string;
  locale: Locale;
}

/** Everything a mail about a request may show; no secrets except `token` on confirm/reminder mail. */
export interface RequestMailPayload {
  requestId: number;
  serviceName: string;
  serviceType: string;
  roles: Role[];
  fromHandle: string;
  toHandle: string;
  requesterHandle: string;
  partyHandles: string[];
  expiresAt: number;
  recipientHandle: string;
  /** Why a request failed (a translation key suffix), for request.failed. */
  failureReason?: string | null;
  /** Who refused or cancelled, for request.refused / request.cancelled. */
  actorHandle?: string | null;
  /** The recipient's own confirmation token, only in request.confirm and request.reminder. */
  token?: string;
}

export interface MailIntent {
  kind: MailKind;
  recipient: MailRecipient;
  payload: RequestMailPayload;
}

const INSERT_CHUNK = 200;

export class Outbox {
  constructor(private readonly deps: { now: () => number }) {}

  /** Queues the mails in the caller's transaction, so they exist exactly when the change does. */
  async enqueue(trx: Knex.Transaction | Knex, intents: MailIntent[]): Promise<void> {
    if (intents.length === 0) return;
    const at = this.deps.now();
    const rows = intents.map((intent) => ({
      kind: intent.kind,
      request_id: intent.payload.requestId,
      recipient_address: intent.recipient.email,
      recipient_name: intent.recipient.name,
      locale: intent.recipient.locale,
      payload: JSON.stringify(intent.payload),
      status: 'pending',
      attempts: 0,
      next_attempt_at: at,
      created_at: at,
    }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx('outbox').insert(rows.slice(i, i + INSERT_CHUNK));
    }
  }
}
