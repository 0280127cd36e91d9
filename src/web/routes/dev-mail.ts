// Development mailbox: lists and shows the .eml files the file transport writes when no SMTP
// server is configured, so the whole consent flow can be clicked through on a fresh checkout.
// Mounted only outside production and without SMTP; it has no login of its own.
import { Router } from 'express';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.js';
import { NotFoundError } from '../../domain/errors.js';
import { MAIL_FILE_PATTERN } from '../../mail/transport.js';
import { noStore } from '../middleware/locals.js';

export const DEV_MAIL_PAGE_SIZE = 50;

interface MailFile {
  name: string;
  writtenAt: number;
  outboxId: number;
}

/** A piece of a text line: plain text, or a link made clickable. */
export type TextSegment = { text: string; href?: undefined } | { text: string; href: string };

async function mailFiles(mailDir: string): Promise<MailFile[]> {
  let names: string[];
  try {
    names = await readdir(mailDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: MailFile[] = [];
  for (const name of names) {
    const match = MAIL_FILE_PATTERN.exec(name);
    if (match) files.push({ name, writtenAt: Number(match[1]), outboxId: Number(match[2]) });
  }
  // Newest first; the outbox id breaks ties within one millisecond.
  return files.sort((a, b) => b.writtenAt - a.writtenAt || b.outboxId - a.outboxId);
}

function addresses(value: AddressObject | AddressObject[] | undefined): string {
  if (!value) return '';
  return (Array.isArray(value) ? value : [value]).map((address) => address.text).join(', ');
}

async function parse(mailDir: string, file: MailFile): Promise<ParsedMail> {
  return simpleParser(await readFile(path.join(mailDir, file.name)), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
}

const LINK = /https?:\/\/[^\s<>"]+/g;

/** Splits a line into text and http(s) links; trailing punctuation stays text. */
export function linkify(line: string): TextSegment[] {
  const segments: TextSegment[] = [];
  let last = 0;
  for (const match of line.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, '');
    const start = match.index ?? 0;
    if (start > last) segments.push({ text: line.slice(last, start) });
    segments.push({ text: url, href: url });
    last = start + url.length;
  }
  if (last < line.length) segments.push({ text: line.slice(last) });
  return segments;
}

/** Paragraphs (split on blank lines) of lines of segments: the view needs no <pre> or CSS. */
export function textParagraphs(text: string): TextSegment[][][] {
  return text
    .replace(/\r\n/g, '\n')
    .trim()
    .split(/\n[ \t]*\n\s*/)
    .filter((paragraph) => paragraph !== '')
    .map((paragraph) => paragraph.split('\n').map(linkify));
}

export function devMailRoutes(config: Pick<Config, 'mailDir'>): Router {
  const router = Router();
  const { mailDir } = config;

  // Mail holds confirmation tokens: never cached.
  router.get('/dev/mail', noStore, async (req, res) => {
    const files = await mailFiles(mailDir);
    const pageCount = Math.max(1, Math.ceil(files.length / DEV_MAIL_PAGE_SIZE));
    const requested = typeof req.query.page === 'string' && /^[1-9][0-9]{0,5}$/.test(req.query.page) ? Number(req.query.page) : 1;
    const page = Math.min(requested, pageCount);
    const onPage = files.slice((page - 1) * DEV_MAIL_PAGE_SIZE, page * DEV_MAIL_PAGE_SIZE);
    const messages = await Promise.all(
      onPage.map(async (file) => {
        const mail = await parse(mailDir, file);
        return { file: file.name, date: file.writtenAt, to: addresses(mail.to), subject: mail.subject ?? '' };
      }),
    );
    res.render('dev-mail', {
      title: req.t('devMail.title'),
      mailDir,
      messages,
      total: files.length,
      page,
      pageCount,
      pageUrl: (p: number) => (p > 1 ? `/dev/mail?page=${p}` : '/dev/mail'),
    });
  });

  router.get('/dev/mail/:file', noStore, async (req, res) => {
    const name = String(req.params.file);
    // Only a name of the listing's exact shape that is in the listing: no path ever reaches the disk.
    const file = MAIL_FILE_PATTERN.test(name) ? (await mailFiles(mailDir)).find((candidate) => candidate.name === name) : undefined;
    if (!file) throw new NotFoundError();
    const mail = await parse(mailDir, file);
    res.render('dev-mail-message', {
      title: mail.subject || req.t('devMail.noSubject'),
      message: {
        file: file.name,
        subject: mail.subject ?? '',
        from: addresses(mail.from),
        to: addresses(mail.to),
        date: mail.date ? mail.date.getTime() : file.writtenAt,
        messageId: mail.messageId ?? '',
        paragraphs: textParagraphs(mail.text ?? ''),
      },
    });
  });

  return router;
}
