// How a rendered mail leaves the process: a pooled SMTP connection when SMTP_URL is set, else
// an RFC 822 file in MAIL_DIR that the development mailbox lists (no server needed on a fresh
// checkout).
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export interface MailAddress {
  name: string;
  address: string;
}

export interface OutgoingMail {
  /** The outbox row id: the Message-ID (and the file name) derive from it. */
  outboxId: number;
  to: MailAddress;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  /** Resolves once the server (or the file system) took the mail; rejects otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

export type TransportConfig = Pick<Config, 'smtpUrl' | 'mailDir' | 'mailFrom' | 'publicUrl'>;

/** A failure that will not go away by trying again (bad address, unrenderable row). */
export class PermanentMailError extends Error {
  override name = 'PermanentMailError';
  readonly permanent = true;
}

/** File names of the file transport: `<13-digit epoch ms>-<outbox id>.eml`, sortable by time. */
export const MAIL_FILE_PATTERN = /^(\d{13})-(\d{1,12})\.eml$/;

/**
 * Stable per outbox row, so that a mail sent twice (a crash between sending and marking it
 * sent) is recognisable as the same message by the receiving side and by people.
 */
export function messageIdFor(outboxId: number, publicUrl: string): string {
  return `<outbox-${outboxId}@${new URL(publicUrl).hostname}>`;
}

// Header injection guard: nodemailer encodes names, but a line break or NUL in either part has no
// business in an address and means the data is broken.
const FORBIDDEN = /[\r\n\0]/;
const ADDRESS = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

export function checkAddress(to: MailAddress): MailAddress {
  if (FORBIDDEN.test(to.name) || FORBIDDEN.test(to.address)) throw new PermanentMailError('recipient contains a line break or NUL');
  if (to.address.length > 254 || !ADDRESS.test(to.address)) throw new PermanentMailError('recipient address is not a valid address');
  return { name: to.name.trim(), address: to.address };
}

/**
 * An SMTP 5xx refusing this mail: its recipient (RCPT TO) or its content (DATA); and our own
 * permanent errors (a bad address, a mail that cannot be rendered). Everything else is retried with
 * backoff, 5xx included: a refused login (535), a refused sender (MAIL FROM) or a server refusing
 * connections (554 greeting) says nothing about the mail, and the operator who fixes SMTP_URL or
 * MAIL_FROM must find it still queued, not dead. (nodemailer marks every 5xx but 503, a command out
 * of sequence, `permanent`, whatever the command; only an error without an SMTP reply is taken at
 * its word.)
 */
export function isPermanentFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { permanent, responseCode, command } = error as { permanent?: unknown; responseCode?: unknown; command?: unknown };
  if (typeof responseCode === 'number') return responseCode >= 500 && responseCode < 600 && responseCode !== 503 && (command === 'RCPT TO' || command === 'DATA');
  return permanent === true;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '::1' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export function createTransport(config: TransportConfig, options: { logger?: Logger; now?: () => number } = {}): MailTransport {
  return config.smtpUrl ? smtpTransport(config, config.smtpUrl, options.logger) : fileTransport(config, options.now ?? Date.now);
}

function message(config: TransportConfig, mail: OutgoingMail) {
  return {
    from: config.mailFrom,
    to: checkAddress(mail.to),
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    messageId: messageIdFor(mail.outboxId, config.publicUrl),
    // RFC 3834: tells auto-responders (vacation replies) not to answer.
    headers: { 'Auto-Submitted': 'auto-generated' },
  };
}

function smtpTransport(config: TransportConfig, smtpUrl: string, logger: Logger | undefined): MailTransport {
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({
    pool: true,
    url: smtpUrl,
    maxConnections: 5,
    maxMessages: 100,
    // Bounded well below the dispatcher's lease, so a hung server cannot outlive the claim.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    // A relay on the same machine (a local MTA, the test server) commonly has no certificate;
    // traffic on loopback never leaves the host, so plain SMTP is fine there. Elsewhere the
    // connection must be upgraded with STARTTLS before anything is sent: by default nodemailer
    // goes on in plain text when the server does not offer it (or when someone in between strips
    // the offer), and every code would cross the network readable. `?requireTLS=false` in
    // SMTP_URL allows that again, for a relay without TLS on a network the operator trusts.
    // (The URL standard leaves the host of an smtp: URL as written, LOCALHOST included.)
    ...(url.protocol === 'smtp:' ? (isLoopback(url.hostname.toLowerCase()) ? { ignoreTLS: true, secure: false } : { requireTLS: true }) : {}),
  });
  // An emitted 'error' without a listener would crash the worker; failures reach us per mail anyway.
  transporter.on('error', (error: Error) => logger?.warn({ err: { message: error.message } }, 'smtp pool error'));
  return {
    kind: 'smtp',
    async send(mail) {
      await transporter.sendMail(message(config, mail));
    },
    async close() {
      transporter.close();
    },
  };
}

function fileTransport(config: TransportConfig, now: () => number): MailTransport {
  return {
    kind: 'file',
    async send(mail) {
      const data = message(config, mail);
      const raw = await new MailComposer({ ...data, date: new Date(now()) }).compile().build();
      // Every time, not once: someone clearing var/mail during development must not break sending.
      await mkdir(config.mailDir, { recursive: true });
      const name = `${String(now()).padStart(13, '0')}-${mail.outboxId}.eml`;
      // Written under a name the mailbox ignores, then renamed: a reader never sees half a mail.
      const temporary = path.join(config.mailDir, `.${name}.${process.pid}.tmp`);
      try {
        await writeFile(temporary, raw, { mode: 0o600 });
        await rename(temporary, path.join(config.mailDir, name));
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
    async close() {},
  };
}
