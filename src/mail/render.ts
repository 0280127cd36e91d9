// Turns an outbox row into the subject, text and HTML of a mail, in the recipient's language.
// Rendering happens at send time (the domain only stores kind + payload), so a wording fix
// applies to every mail not yet sent.
import ejs from 'ejs';
import type { i18n as I18n, TFunction } from 'i18next';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIL_KINDS, type EmailChangedMailPayload, type MailKind, type RequestMailKind, type RequestMailPayload } from '../domain/outbox.js';
import { isRole, type Role } from '../domain/roles.js';
import { canonicalTimeZone } from '../domain/time-zones.js';
import { formatDateTime, timeZoneName } from '../i18n/dates.js';
import { languageOfLocale, type Language } from '../i18n/index.js';

export interface RenderableMail {
  kind: string;
  locale: string;
  /** The recipient's zone when the mail was queued; null or absent = the default zone. */
  time_zone?: string | null;
  /** The outbox `payload` column (JSON text) or the already parsed payload. */
  payload: string | RequestMailPayload | EmailChangedMailPayload;
  recipient_name: string;
  recipient_address: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailRenderer {
  render(row: RenderableMail): RenderedMail;
}

/** The row cannot be turned into a mail (unknown kind, malformed payload): retrying will not help. */
export class MailRenderError extends Error {
  override name = 'MailRenderError';
  readonly permanent = true;
}

/** What both templates show; all strings are already translated, the templates only lay them out. */
export interface MailModel {
  lang: string;
  subject: string;
  greeting: string;
  intro: string[];
  summaryHeading: string;
  summary: { label: string; value: string }[];
  /** The single link of the mail; for confirm/reminder the confirmation link. */
  action: { intro: string; url: string; label: string } | null;
  token: { label: string; value: string; hint: string } | null;
  outro: string[];
  automatic: string;
  signature: string;
}

const templatesDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), 'templates');

type Template = (model: MailModel) => string;
const templates = new Map<string, Template>();

/** Compiled once per process: templates are read from disk the first time they are needed. */
function template(name: 'mail.text.ejs' | 'mail.html.ejs'): Template {
  let compiled = templates.get(name);
  if (!compiled) {
    const filename = path.join(templatesDirectory, name);
    const fn = ejs.compile(readFileSync(filename, 'utf8'), {
      filename,
      // No `with`: a misspelt variable is an error instead of a silent blank.
      _with: false,
      strict: true,
      localsName: 'mail',
      // The text part must not be HTML-escaped; the HTML part keeps EJS' own escaping.
      ...(name.endsWith('.text.ejs') ? { escape: (value: unknown) => String(value) } : {}),
    });
    compiled = (model) => fn(model);
    templates.set(name, compiled);
  }
  return compiled;
}

function isMailKind(kind: string): kind is MailKind {
  return (MAIL_KINDS as readonly string[]).includes(kind);
}

// Payload fields end up in mail headers and links: refuse control characters and odd shapes
// rather than pass them through.
const SAFE_TEXT = /^[^\0-\x1f\x7f]*$/;
const TOKEN = /^[A-Za-z0-9._~-]{16,256}$/;
const REASON = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

function text(value: unknown, field: string, optional = false): string {
  if ((value === undefined || value === null) && optional) return '';
  if (typeof value !== 'string' || !SAFE_TEXT.test(value)) throw new MailRenderError(`payload field ${field} is not a plain string`);
  return value;
}

function payloadObject(raw: string | object): Record<string, unknown> {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new MailRenderError('payload is not JSON');
    }
  }
  if (typeof value !== 'object' || value === null) throw new MailRenderError('payload is not an object');
  return value as Record<string, unknown>;
}

function timestamp(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MailRenderError(`payload field ${field} is not a timestamp`);
  return value;
}

export function parsePayload(raw: string | object): RequestMailPayload {
  const p = payloadObject(raw);
  if (!Number.isSafeInteger(p.requestId) || (p.requestId as number) <= 0) throw new MailRenderError('payload field requestId is not a positive integer');
  timestamp(p.expiresAt, 'expiresAt');
  if (!Array.isArray(p.roles) || !p.roles.every(isRole)) throw new MailRenderError('payload field roles is not a list of roles');
  if (!Array.isArray(p.partyHandles)) throw new MailRenderError('payload field partyHandles is not a list');
  const token = p.token === undefined ? undefined : text(p.token, 'token');
  if (token !== undefined && !TOKEN.test(token)) throw new MailRenderError('payload field token has an unexpected format');
  const failureReason = p.failureReason === undefined || p.failureReason === null ? null : text(p.failureReason, 'failureReason');
  return {
    requestId: p.requestId as number,
    serviceName: text(p.serviceName, 'serviceName'),
    serviceType: text(p.serviceType, 'serviceType'),
    roles: p.roles as Role[],
    fromHandle: text(p.fromHandle, 'fromHandle'),
    toHandle: text(p.toHandle, 'toHandle'),
    requesterHandle: text(p.requesterHandle, 'requesterHandle'),
    partyHandles: p.partyHandles.map((handle, i) => text(handle, `partyHandles[${i}]`)),
    expiresAt: p.expiresAt as number,
    recipientHandle: text(p.recipientHandle, 'recipientHandle'),
    failureReason,
    actorHandle: p.actorHandle === undefined || p.actorHandle === null ? null : text(p.actorHandle, 'actorHandle'),
    ...(token === undefined ? {} : { token }),
  };
}

export function parseEmailChangedPayload(raw: string | object): EmailChangedMailPayload {
  const p = payloadObject(raw);
  return { handle: text(p.handle, 'handle'), newEmail: text(p.newEmail, 'newEmail'), changedAt: timestamp(p.changedAt, 'changedAt') };
}

/**
 * The new address as the old mailbox is shown it: its first character and its domain. Whoever
 * reads the old mailbox (an employer's, once its owner moved on) learns where the mail went, not
 * the whole address; the owner recognises their own.
 */
export function maskedEmail(address: string): string {
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at) : address;
  const first = [...local][0] ?? '';
  return `${first}•••${at > 0 ? address.slice(at) : ''}`;
}

export interface MailRendererDeps {
  i18n: I18n;
  /** PUBLIC_URL: the only source of the links in a mail. */
  publicUrl: string;
  /** DEFAULT_TIME_ZONE: the zone of the dates in mail to recipients who chose none. */
  defaultTimeZone: string;
}

/** The path of a request's confirmation link with `token` (the mail's link, without its site). */
export function confirmPath(requestId: number, token: string): string {
  return `/requests/${requestId}/confirm?token=${encodeURIComponent(token)}`;
}

export function confirmUrl(publicUrl: string, requestId: number, token: string): string {
  return publicUrl + confirmPath(requestId, token);
}

export function createMailRenderer(deps: MailRendererDeps): MailRenderer {
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const { defaultTimeZone } = deps;
  const translators = new Map<Language, TFunction>();
  const listFormats = new Map<Language, Intl.ListFormat>();

  function translatorOf(language: Language): TFunction {
    let t = translators.get(language);
    if (!t) {
      t = deps.i18n.getFixedT(language);
      translators.set(language, t);
    }
    return t;
  }

  /** "24 November 2026 at 10:15 (Western European Time)": the zone is always named. */
  function formatDate(language: Language, epochMs: number, timeZone: string): string {
    return translatorOf(language)('mail.dateInZone', { date: formatDateTime(language, epochMs, timeZone, 'mail'), zone: timeZoneName(language, timeZone, epochMs) });
  }

  function formatList(language: Language, items: string[]): string {
    let format = listFormats.get(language);
    if (!format) {
      format = new Intl.ListFormat(language, { style: 'long', type: 'conjunction' });
      listFormats.set(language, format);
    }
    return format.format(items);
  }

  /** What every mail has around its content: language, greeting, signature. */
  function frameOf(language: Language, recipientName: string): Pick<MailModel, 'lang' | 'greeting' | 'automatic' | 'signature'> {
    const t = translatorOf(language);
    const app = t('app.name');
    return {
      lang: language,
      greeting: recipientName ? t('mail.greeting', { name: recipientName }) : t('mail.greetingNoName'),
      automatic: t('mail.automatic', { app }),
      signature: t('mail.signature', { app }),
    };
  }

  /** account.emailChanged: what changed and when, a way to the profile, what to do if it was not them. */
  function emailChangedModel(language: Language, timeZone: string, payload: EmailChangedMailPayload, recipientName: string, oldEmail: string): MailModel {
    const t = translatorOf(language);
    const key = 'mail.kinds.emailChanged';
    const params = { handle: payload.handle, oldEmail, newEmail: maskedEmail(payload.newEmail), changedAt: formatDate(language, payload.changedAt, timeZone) };
    return {
      ...frameOf(language, recipientName),
      subject: t(`${key}.subject`, params),
      intro: [t(`${key}.intro`, params)],
      summaryHeading: t(`${key}.summaryHeading`),
      summary: [
        { label: t('mail.fields.account'), value: payload.handle },
        { label: t('mail.fields.oldEmail'), value: oldEmail },
        { label: t('mail.fields.newEmail'), value: params.newEmail },
        { label: t('mail.fields.changedAt'), value: params.changedAt },
      ],
      action: { intro: t(`${key}.profileIntro`), url: `${publicUrl}/profile`, label: t(`${key}.profileLabel`) },
      token: null,
      outro: [t(`${key}.notMe`, params)],
    };
  }

  function model(kind: RequestMailKind, language: Language, timeZone: string, payload: RequestMailPayload, recipientName: string): MailModel {
    const t = translatorOf(language);
    const key = `mail.kinds.${kind.slice('request.'.length)}`;
    const page = t('nav.requests');
    const service = payload.serviceName;
    const expires = formatDate(language, payload.expiresAt, timeZone);
    const parties = formatList(language, payload.partyHandles);
    const roles = formatList(
      language,
      payload.roles.map((role) => t(`roles.${role}`)),
    );
    const reasonKey = payload.failureReason && REASON.test(payload.failureReason) ? payload.failureReason : 'unknown';
    const reason = t(`mail.failureReasons.${reasonKey}`, { defaultValue: t('mail.failureReasons.unknown') });
    const params = { service, requester: payload.requesterHandle, from: payload.fromHandle, to: payload.toHandle, expires, parties, actor: payload.actorHandle ?? '', reason };

    const summary: MailModel['summary'] = [
      {
        label: t('mail.fields.service'),
        value: t('mail.serviceWithType', { name: service, type: t(`serviceTypes.${payload.serviceType}`, { defaultValue: payload.serviceType }) }),
      },
      { label: t('mail.fields.roles'), value: roles },
      { label: t('mail.fields.from'), value: payload.fromHandle },
      { label: t('mail.fields.to'), value: payload.toHandle },
      { label: t('mail.fields.requester'), value: payload.requesterHandle },
    ];
    const intro = [t(`${key}.intro`, params)];
    const outro: string[] = [];
    let action: MailModel['action'];
    let token: MailModel['token'] = null;

    if (kind === 'request.confirm' || kind === 'request.reminder') {
      if (!payload.token) throw new MailRenderError(`payload of ${kind} has no token`);
      summary.push({ label: t('mail.fields.parties'), value: parties }, { label: t('mail.fields.expires'), value: expires });
      action = {
        intro: t('mail.loginAs', { handle: payload.recipientHandle }),
        url: confirmUrl(publicUrl, payload.requestId, payload.token),
        label: t(`${key}.action`),
      };
      token = {
        label: t('mail.token.label'),
        value: payload.token,
        hint: t('mail.token.hint', { handle: payload.recipientHandle, page }),
      };
      outro.push(t(`${key}.expiry`, params), t('mail.notMe'));
    } else {
      if (kind === 'request.inform') {
        summary.push({ label: t('mail.fields.parties'), value: parties }, { label: t('mail.fields.expires'), value: expires });
        intro.push(t(`${key}.parties`, params));
      }
      if (kind === 'request.refused' && payload.actorHandle) summary.push({ label: t('mail.fields.refusedBy'), value: payload.actorHandle });
      if (kind === 'request.cancelled' && payload.actorHandle) summary.push({ label: t('mail.fields.cancelledBy'), value: payload.actorHandle });
      action = { intro: t('mail.requestsLinkIntro', { page }), url: `${publicUrl}/requests`, label: t('mail.requestsLinkLabel', { page }) };
    }

    return {
      ...frameOf(language, recipientName),
      subject: t(`${key}.subject`, params),
      intro,
      summaryHeading: t('mail.summaryHeading'),
      summary,
      action,
      token,
      outro,
    };
  }

  return {
    render(row) {
      if (!isMailKind(row.kind)) throw new MailRenderError(`unknown mail kind ${JSON.stringify(row.kind).slice(0, 40)}`);
      const language = languageOfLocale(row.locale);
      const recipientName = SAFE_TEXT.test(row.recipient_name) ? row.recipient_name.trim() : '';
      // A zone this runtime does not know (time-zone data changed since) falls back to the default.
      const timeZone = (row.time_zone && canonicalTimeZone(row.time_zone)) || defaultTimeZone;
      const m =
        row.kind === 'account.emailChanged'
          ? emailChangedModel(language, timeZone, parseEmailChangedPayload(row.payload), recipientName, text(row.recipient_address, 'recipient_address'))
          : model(row.kind, language, timeZone, parsePayload(row.payload), recipientName);
      const plain = template('mail.text.ejs')(m)
        .replace(/[ \t]+$/gm, '')
        .replace(/\n{3,}/g, '\n\n')
        .trim();
      return { subject: m.subject, text: plain + '\n', html: template('mail.html.ejs')(m) };
    },
  };
}
