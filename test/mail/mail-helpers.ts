// Shared pieces of the mail tests: a real SMTP server on loopback, outbox rows, payloads.
import type { Knex } from 'knex';
import { simpleParser, type ParsedMail } from 'mailparser';
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { DEFAULT_TIME_ZONE } from '../../src/config.js';
import type { MailKind, RequestMailPayload } from '../../src/domain/outbox.js';
import { createI18n } from '../../src/i18n/index.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createDispatcher, type DispatchResult } from '../../src/mail/dispatcher.js';
import { createMailRenderer, type MailRenderer } from '../../src/mail/render.js';
import { createTransport, type MailTransport } from '../../src/mail/transport.js';

export const PUBLIC_URL = 'https://contacts.example.com';
export const TOKEN = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde';

export const silentLogger: Logger = createLogger({ level: 'silent', name: 'test' });

export function payload(overrides: Partial<RequestMailPayload> = {}): RequestMailPayload {
  return {
    requestId: 42,
    serviceName: 'example.pt',
    serviceType: 'domain',
    roles: ['tech', 'billing'],
    fromHandle: 'aa111111-ovh',
    toHandle: 'bb222222-ovh',
    requesterHandle: 'cc333333-ovh',
    partyHandles: ['cc333333-ovh', 'bb222222-ovh'],
    expiresAt: Date.UTC(2026, 6, 1, 12, 0),
    recipientHandle: 'bb222222-ovh',
    failureReason: null,
    actorHandle: null,
    ...overrides,
  };
}

export interface OutboxRowInput {
  kind?: MailKind | string;
  address?: string;
  name?: string;
  locale?: 'en' | 'pt';
  payload?: Partial<RequestMailPayload> | string;
  nextAttemptAt?: number;
  claimedBy?: string | null;
  claimedUntil?: number | null;
  attempts?: number;
  status?: 'pending' | 'sent' | 'dead' | 'void';
  /** The outbox's request_id column; NULL unless given, so that no request rows are needed. */
  requestId?: number | null;
}

/** Inserts outbox rows the way src/domain/outbox.ts does (request_id NULL unless given: no request rows needed). */
export async function insertMail(knex: Knex, rows: OutboxRowInput[]): Promise<number[]> {
  const at = Date.now();
  const ids: number[] = [];
  for (const row of rows) {
    const kind = row.kind ?? 'request.confirm';
    const body =
      typeof row.payload === 'string'
        ? row.payload
        : JSON.stringify(payload({ ...(kind === 'request.confirm' || kind === 'request.reminder' ? { token: TOKEN } : {}), ...row.payload }));
    const [inserted] = await knex('outbox')
      .insert({
        kind,
        request_id: row.requestId ?? null,
        recipient_address: row.address ?? 'bb@example.test',
        recipient_name: row.name ?? 'Beatriz Borges',
        locale: row.locale ?? 'en',
        payload: body,
        status: row.status ?? 'pending',
        attempts: row.attempts ?? 0,
        next_attempt_at: row.nextAttemptAt ?? at,
        claimed_by: row.claimedBy ?? null,
        claimed_until: row.claimedUntil ?? null,
        created_at: at,
      })
      .returning('id');
    ids.push(typeof inserted === 'object' ? Number((inserted as { id: number }).id) : Number(inserted));
  }
  return ids;
}

export interface OutboxState {
  id: number;
  status: string;
  attempts: number;
  next_attempt_at: number;
  claimed_by: string | null;
  claimed_until: number | null;
  last_error: string | null;
  sent_at: number | null;
}

export async function outboxRows(knex: Knex): Promise<OutboxState[]> {
  const rows: OutboxState[] = await knex('outbox')
    .select('id', 'status', 'attempts', 'next_attempt_at', 'claimed_by', 'claimed_until', 'last_error', 'sent_at')
    .orderBy('id');
  return rows.map((row) => ({
    ...row,
    attempts: Number(row.attempts),
    next_attempt_at: Number(row.next_attempt_at),
    claimed_until: row.claimed_until === null ? null : Number(row.claimed_until),
    sent_at: row.sent_at === null ? null : Number(row.sent_at),
  }));
}

/** A port nothing listens on (for "SMTP is down"), which a server can take later. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

export interface TestSmtpServer {
  port: number;
  url: string;
  /** Every accepted message, parsed, with the envelope recipients and whether it came over TLS. */
  messages: (ParsedMail & { envelopeTo: string[]; overTls: boolean })[];
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (no TLS, no auth), keeping what it receives. A message is
 * stored before the server answers 250, so once sendMail resolves it is in `messages`.
 * `delayMs` makes it take its time over each message, so that a worker can be stopped or killed
 * while a batch is being sent. `refuse` makes it refuse every login (535),
 * every sender (550) or every message's content (554).
 */
export async function startSmtpServer(
  options: { port?: number; reject?: (address: string) => boolean; delayMs?: number; refuse?: 'login' | 'sender' | 'content'; startTls?: boolean } = {},
): Promise<TestSmtpServer> {
  const messages: TestSmtpServer['messages'] = [];
  const server = new SMTPServer({
    // STARTTLS (with smtp-server's own self-signed certificate) is offered unless told otherwise.
    ...(options.startTls === false ? { disabledCommands: ['STARTTLS'] } : {}),
    authOptional: true,
    // Logins over plain SMTP on loopback (the transport uses no TLS there).
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    onAuth(_auth, _session, callback) {
      if (options.refuse === 'login') return callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      callback(null, { user: 'test' });
    },
    onMailFrom(_address, _session, callback) {
      if (options.refuse === 'sender') return callback(Object.assign(new Error('5.7.1 Sender address rejected'), { responseCode: 550 }));
      callback();
    },
    // Closing waits this long for open client connections (the pool's) before cutting them.
    closeTimeout: 200,
    onRcptTo(address, _session, callback) {
      if (options.reject?.(address.address)) {
        const error = Object.assign(new Error('5.1.1 No such user here'), { responseCode: 550 });
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
      simpleParser(stream).then(
        (mail) => {
          if (options.refuse === 'content') return callback(Object.assign(new Error('5.7.1 Message content rejected'), { responseCode: 554 }));
          const accept = () => {
            // Recorded when the server answers 250: from then on the mail counts as delivered.
            messages.push(Object.assign(mail, { envelopeTo, overTls: session.secure }));
            callback();
          };
          if (options.delayMs) setTimeout(accept, options.delayMs);
          else accept();
        },
        (error: Error) => callback(error),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  // A client killed in the middle of a message (a worker's SIGKILL) resets its connection:
  // smtp-server reports that as an 'error' event, which is expected (and would otherwise crash
  // the test process).
  server.removeAllListeners('error');
  server.on('error', () => undefined);
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The mail renderer the worker builds, with the tests' PUBLIC_URL. */
export const testRenderer: MailRenderer = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });

/** A transport to the SMTP server at `url`, as the worker builds one. */
export function smtpTransport(url: string): MailTransport {
  return createTransport({ smtpUrl: url, mailDir: '/nonexistent', mailFrom: 'Contacts <contacts@contacts.example.com>', publicUrl: PUBLIC_URL });
}

export interface SmtpDispatch {
  smtp: TestSmtpServer;
  /** One round of the worker's dispatcher over `knex`'s outbox, sending to `smtp`. */
  dispatchOnce(): Promise<DispatchResult>;
  /** The transport, then the server (a server waits for open client connections when closing). */
  close(): Promise<void>;
}

/** A real SMTP server on loopback and the worker's dispatcher sending `knex`'s outbox to it. */
export async function startSmtpDispatch(knex: Knex, now: () => number): Promise<SmtpDispatch> {
  const smtp = await startSmtpServer();
  const transport = smtpTransport(smtp.url);
  return {
    smtp,
    dispatchOnce: () => createDispatcher({ knex, transport, renderer: testRenderer, logger: silentLogger, workerId: 'worker-a', now }).dispatchOnce(),
    async close() {
      await transport.close();
      await smtp.close();
    },
  };
}
