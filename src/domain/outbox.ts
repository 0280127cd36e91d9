// The domain side of mail: what to tell whom, written to the outbox table inside the caller's
// transaction. Rendering and sending belong to src/mail and the worker.
import type { Knex } from 'knex';
import type { ChangeRequest } from './change-requests.js';
import { LOCALES, type Locale, type Role } from './roles.js';
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

/**
 * A request mail's payload, in this key order. Optional keys appear only when they have a value:
 * the payload's bytes are most of what writing a mail costs. enqueueAboutRequests writes the same
 * text in SQL (a test compares them).
 */
export function requestMailPayload(request: ChangeRequest, recipientHandle: string, extra: { actorHandle?: string | null; token?: string } = {}): RequestMailPayload {
  return {
    requestId: request.id,
    serviceName: request.serviceName,
    serviceType: request.serviceType,
    roles: request.roles,
    fromHandle: request.from.handle,
    toHandle: request.to.handle,
    requesterHandle: request.requester.handle,
    partyHandles: request.parties.map((p) => p.handle),
    expiresAt: request.expiresAt,
    recipientHandle,
    ...(request.failureReason ? { failureReason: request.failureReason } : {}),
    ...(extra.actorHandle ? { actorHandle: extra.actorHandle } : {}),
    ...(extra.token ? { token: extra.token } : {}),
  };
}

/** Mails per INSERT statement (enqueue), and requests per INSERT statement (enqueueAboutRequests). */
const INSERT_CHUNK = 1000;

const COLUMNS = 'kind, request_id, recipient_address, recipient_name, locale, time_zone, payload, status, attempts, next_attempt_at, created_at';

/**
 * One INSERT per chunk whose rows arrive as a single JSON parameter (an array of
 * [kind, request_id, address, name, locale, time_zone, payload] tuples) that the database unpacks itself:
 * a multi-row INSERT with ten parameters per row spends most of its time on building, parsing
 * and binding those parameters when a sweep writes tens of thousands of reminders. Rows are
 * inserted in the order of the intents (ids follow it): json_each walks the array in order, and
 * PostgreSQL is told to keep the elements' order. PostgreSQL reads the array as jsonb, parsed
 * once: each `->>` on a json value parses its element's text again, seven times per row, which
 * was an eighth of the server's work in the expiry sweep when it still wrote its mails this way.
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

/**
 * The mails about requests that just closed, to everyone involved in each (requester, outgoing and
 * incoming contact, the parties in the order they were recorded, then the actor, each once),
 * written by the database from the requests themselves: for a sweep's hundred thousand requests,
 * reading them back, building each mail's payload in JavaScript and sending it back as JSON took
 * more than half of the sweep. Rows come in the order of the ids, then of the recipients, as
 * Outbox.enqueue writes them.
 *
 * The payload is the text JSON.stringify makes of requestMailPayload (a test compares them): its
 * keys in order, minified, without the optional keys that have no value. It is put together as
 * text, each value quoted by the database's JSON quoting: the part every recipient of a request
 * shares once per request, then each recipient's handle. json_build_object would write spaces
 * between keys and values, and building a JSON value per mail cost about a third more.
 *
 * The recipients' columns are the account's, except two: a locale this version does not know is
 * written as English, as toAccount reads it; the time zone is written as stored, where toAccount
 * would read a zone this runtime no longer knows as none, which the renderer does when it reads
 * the mail (an old alias is resolved there too).
 *
 * The common tables used more than once are MATERIALIZED (SQLite would otherwise compute one
 * again at each use), and the parties are joined with CROSS JOIN, which makes SQLite go from the
 * requests to their parties rather than through all parties.
 *
 * Parameters: the ids (a JSON array), the actor's id (or null), the kind, the time twice.
 */
function requestMailsSql(db: Knex.Transaction | Knex): string {
  const pg = db.client.config.client === 'pg';
  const quoted = (expression: string) => (pg ? `to_json(${expression})` : `json_quote(${expression})`);
  // A key that only appears with a value (SQLite quotes NULL as null).
  const optional = (key: string, expression: string) => `CASE WHEN ${expression} IS NULL THEN '' ELSE ',"${key}":' || ${quoted(expression)} END`;
  const ids = pg
    ? 'SELECT CAST(value AS integer) AS id, n FROM json_array_elements_text(CAST(? AS json)) WITH ORDINALITY AS e(value, n)'
    : 'SELECT value AS id, key AS n FROM json_each(?)';
  const roles = pg ? "to_json(string_to_array(r.roles, ','))" : `'["' || replace(r.roles, ',', '","') || '"]'`;
  const handleList = pg ? 'to_json(array_agg(a_handle ORDER BY id))' : 'json_group_array(a_handle ORDER BY id)';
  const noHandles = pg ? "CAST('[]' AS json)" : "'[]'";
  const actorId = pg ? 'CAST(? AS integer)' : '?';
  const time = pg ? 'CAST(? AS bigint)' : '?';
  // An account's columns a mail needs, read as <alias>_<column>, then given as one recipient's.
  const accountColumns = ['handle', 'email', 'name', 'locale', 'time_zone'];
  const person = (alias: string) => accountColumns.map((column) => `${alias}.${column} AS ${alias}_${column}`).join(', ');
  const recipient = (alias: string) => accountColumns.map((column) => `${alias}_${column} AS ${column}`).join(', ');
  // As toAccount reads it: a locale this version does not know is English.
  const locale = `CASE WHEN locale IN (${LOCALES.map((known) => `'${known}'`).join(', ')}) THEN locale ELSE 'en' END`;
  // Each recipient once, at its first place: the requester; the outgoing contact unless it asked;
  // the incoming contact unless it is either; each party (one row per account and request) unless
  // it is one of those three; the actor unless it is any of them. Every account comes with the
  // request or party it was read for, so no account is looked up twice.
  return `WITH moved AS MATERIALIZED (
      SELECT e.n, r.id, r.requester_id, r.from_account_id, r.to_account_id, r.failure_reason, r.expires_at, ${person('q')}, ${person('f')}, ${person('t')},
             '{"requestId":' || r.id || ',"serviceName":' || ${quoted('s.name')} || ',"serviceType":' || ${quoted('s.type')} || ',"roles":' || ${roles}
               || ',"fromHandle":' || ${quoted('f.handle')} || ',"toHandle":' || ${quoted('t.handle')} || ',"requesterHandle":' || ${quoted('q.handle')} AS head
        FROM (${ids}) e
        JOIN change_requests r ON r.id = e.id
        JOIN services s ON s.id = r.service_id
        JOIN accounts q ON q.id = r.requester_id
        JOIN accounts f ON f.id = r.from_account_id
        JOIN accounts t ON t.id = r.to_account_id
    ),
    actor AS MATERIALIZED (SELECT id, ${person('x')} FROM accounts x WHERE id = ${actorId}),
    parties AS MATERIALIZED (
      SELECT m.n, m.id AS request_id, m.requester_id, m.from_account_id, m.to_account_id, p.id, p.account_id, ${person('a')}
        FROM moved m CROSS JOIN request_parties p CROSS JOIN accounts a
       WHERE p.request_id = m.id AND a.id = p.account_id
    ),
    requests AS MATERIALIZED (
      SELECT m.*,
             m.head || ',"partyHandles":' || COALESCE(h.list, ${noHandles}) || ',"expiresAt":' || m.expires_at || ',"recipientHandle":' AS before,
             ${optional('failureReason', "NULLIF(m.failure_reason, '')")} || ${optional('actorHandle', '(SELECT x_handle FROM actor)')} || '}' AS after
        FROM moved m LEFT JOIN (SELECT request_id, ${handleList} AS list FROM parties GROUP BY request_id) h ON h.request_id = m.id
    ),
    recipients AS (
      SELECT n, id, before, after, 0 AS position, ${recipient('q')} FROM requests
      UNION ALL SELECT n, id, before, after, 1, ${recipient('f')} FROM requests WHERE from_account_id <> requester_id
      UNION ALL SELECT n, id, before, after, 2, ${recipient('t')} FROM requests WHERE to_account_id NOT IN (requester_id, from_account_id)
      UNION ALL SELECT r.n, r.id, r.before, r.after, 3 + CAST(p.id AS bigint), ${recipient('a')}
        FROM parties p JOIN requests r ON r.id = p.request_id
       WHERE p.account_id NOT IN (p.requester_id, p.from_account_id, p.to_account_id)
      UNION ALL SELECT r.n, r.id, r.before, r.after, CAST(4611686018427387904 AS bigint), ${recipient('x')}
        FROM requests r CROSS JOIN actor x
       WHERE x.id NOT IN (r.requester_id, r.from_account_id, r.to_account_id)
         AND NOT EXISTS (SELECT 1 FROM parties p WHERE p.request_id = r.id AND p.account_id = x.id)
    )
    INSERT INTO outbox (${COLUMNS})
    SELECT ?, id, email, name, ${locale}, time_zone, before || ${quoted('handle')} || after, 'pending', 0, ${time}, ${time}
      FROM recipients
     ORDER BY n, position`;
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

  /**
   * Queues a mail of `kind` about each of the requests to everyone involved in it and to the actor
   * (see requestMailsSql), in the caller's transaction; the requests are read as they are in it.
   */
  async enqueueAboutRequests(trx: Knex.Transaction | Knex, kind: RequestMailKind, requestIds: readonly number[], actorId: number | null): Promise<void> {
    const at = this.deps.now();
    const sql = requestMailsSql(trx);
    for (let i = 0; i < requestIds.length; i += INSERT_CHUNK) {
      await trx.raw(sql, [JSON.stringify(requestIds.slice(i, i + INSERT_CHUNK)), actorId, kind, at, at]);
    }
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
