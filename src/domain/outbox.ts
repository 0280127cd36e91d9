// The domain side of mail: what to tell whom, written to the outbox table inside the caller's
// transaction. Rendering and sending belong to src/mail and the worker.
import type { Knex } from 'knex';
import type { Locale, Role } from './roles.js';
import { hashToken } from './tokens.js';

/** Mail about a change request; its payload is a RequestMailPayload. */
export const REQUEST_MAIL_KINDS = [
  'request.confirm',
  'request.reminder',
  'request.inform',
  'request.done',
  'request.refused',
  'request.cancelled',
  'request.expired',
  'request.failed',
] as const;
export type RequestMailKind = (typeof REQUEST_MAIL_KINDS)[number];

/** Mail about an account itself; its payload is an EmailChangedMailPayload. */
export const ACCOUNT_MAIL_KINDS = ['account.emailChanged'] as const;
export type AccountMailKind = (typeof ACCOUNT_MAIL_KINDS)[number];

export const MAIL_KINDS = [...REQUEST_MAIL_KINDS, ...ACCOUNT_MAIL_KINDS] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface MailRecipient {
  accountId: number;
  handle: string;
  name: string;
  email: string;
  locale: Locale;
  /** The recipient's chosen zone for the mail's dates; null = the default zone when it is rendered. */
  timeZone: string | null;
}

/** The kinds of mail that carry the recipient's token (RequestMailPayload.token). */
export const TOKEN_MAIL_KINDS: readonly MailKind[] = Object.freeze(['request.confirm', 'request.reminder']);

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

/**
 * account.emailChanged, sent to the address an account had before a change: if someone else
 * changed it (with a stolen password), the owner hears of it where they still read mail.
 */
export interface EmailChangedMailPayload {
  handle: string;
  newEmail: string;
  changedAt: number;
}

export type MailIntent =
  | { kind: RequestMailKind; recipient: MailRecipient; payload: RequestMailPayload }
  | { kind: AccountMailKind; recipient: MailRecipient; payload: EmailChangedMailPayload };

/** Mails per INSERT statement. */
const INSERT_CHUNK = 1000;

const COLUMNS = 'kind, request_id, recipient_address, recipient_name, locale, time_zone, payload, status, attempts, next_attempt_at, created_at';

/**
 * One INSERT per chunk whose rows arrive as a single JSON parameter (an array of
 * [kind, request_id, address, name, locale, time_zone, payload] tuples) that the database unpacks itself:
 * a multi-row INSERT with ten parameters per row spends most of its time on building, parsing
 * and binding those parameters when a sweep writes a few hundred thousand mails. Rows are
 * inserted in the order of the intents (ids follow it): json_each walks the array in order, and
 * PostgreSQL is told to keep the elements' order. PostgreSQL reads the array as jsonb, parsed
 * once: each `->>` on a json value parses its element's text again, seven times per row, which
 * was an eighth of the server's work in the expiry sweep.
 */
function insertSql(trx: Knex.Transaction | Knex): string {
  return trx.client.config.client === 'pg'
    ? `INSERT INTO outbox (${COLUMNS})
       SELECT v->>0, CAST(v->>1 AS integer), v->>2, v->>3, v->>4, v->>5, v->>6, 'pending', 0, CAST(? AS bigint), CAST(? AS bigint)
         FROM jsonb_array_elements(CAST(? AS jsonb)) WITH ORDINALITY AS e(v, n) ORDER BY n`
    : `INSERT INTO outbox (${COLUMNS})
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, 'pending', 0, CAST(? AS integer), CAST(? AS integer)
         FROM json_each(?)`;
}

export class Outbox {
  constructor(private readonly deps: { now: () => number }) {}

  /** Queues the mails in the caller's transaction, so they exist exactly when the change does. */
  async enqueue(trx: Knex.Transaction | Knex, intents: MailIntent[]): Promise<void> {
    if (intents.length === 0) return;
    const at = this.deps.now();
    const sql = insertSql(trx);
    // The next chunk is prepared while the database writes the previous one.
    let writing: Promise<unknown> | undefined;
    for (let i = 0; i < intents.length; i += INSERT_CHUNK) {
      const rows = JSON.stringify(
        intents
          .slice(i, i + INSERT_CHUNK)
          .map((intent) => [
            intent.kind,
            'requestId' in intent.payload ? intent.payload.requestId : null,
            intent.recipient.email,
            intent.recipient.name,
            intent.recipient.locale,
            intent.recipient.timeZone,
            JSON.stringify(intent.payload),
          ]),
      );
      await writing;
      writing = trx.raw(sql, [at, at, rows]).then(() => undefined);
      // Awaited on the next turn or below; this only keeps a failure from counting as unhandled meanwhile.
      writing.catch(() => undefined);
    }
    await writing;
  }
}

/** A queued mail that carries a code: its outbox id, its request and the code it shows. */
export interface TokenMail {
  id: number;
  requestId: number | null;
  token: string | undefined;
}

/**
 * The ids of the mails whose code no longer works: their request is closed or past its expiry, or
 * the code is no longer its party's current one. Such a mail would only send its reader to "this
 * code was replaced" or "this request is closed", so it is not worth sending (it may have waited
 * out an SMTP outage in backoff while its replacement went out first). A mail without a request
 * id (the domain writes none such; tests and benchmarks do) has nothing to check against and is
 * not counted as stale. One query for the whole batch.
 */
export async function staleTokenMails(knex: Knex, mails: readonly TokenMail[], now: number): Promise<Set<number>> {
  const checked = mails.filter((mail) => mail.requestId !== null);
  const requestIds = [...new Set(checked.map((mail) => mail.requestId as number))];
  if (requestIds.length === 0) return new Set();
  const rows = (await knex('request_parties as p')
    .join('change_requests as r', 'r.id', 'p.request_id')
    .whereIn('p.request_id', requestIds)
    .andWhere('r.state', 'pending')
    .andWhere('r.expires_at', '>', now)
    .whereNotNull('p.token_hash')
    .select('p.request_id', 'p.token_hash')) as { request_id: number | string; token_hash: string }[];
  const live = new Set(rows.map((row) => `${Number(row.request_id)}:${row.token_hash}`));
  return new Set(checked.flatMap((mail) => (mail.token !== undefined && live.has(`${mail.requestId}:${hashToken(mail.token)}`) ? [] : [mail.id])));
}
