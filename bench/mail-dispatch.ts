// mail-dispatch: 20,000 outbox rows (times BENCH_SCALE) sent by the worker's dispatcher, driven
// the way the worker's outbox job drives it (drainOutbox), to a local SMTP sink that accepts
// everything; against plain loops (as many as the dispatcher's concurrency) over a pooled
// nodemailer transport sending the same mails to the same sink. The ratio's baseline renders each
// mail with the same renderer, so the ratio is the cost of the outbox machinery (claims, leases,
// "sent" updates, logging); a second baseline sends pre-rendered mails (send only).
//
//   BENCH_DB_URL=… tsx bench/mail-dispatch.ts   (run.ts does this; without it, a fresh database)
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import type { Knex } from 'knex';
import { migrateLatest } from '../src/db/knex.js';
import type { MailKind, RequestMailPayload } from '../src/domain/outbox.js';
import { DEFAULT_TIME_ZONE } from '../src/config.js';
import { createI18n } from '../src/i18n/index.js';
import { createLogger } from '../src/logger.js';
import { createDispatcher, DEFAULT_CONCURRENCY } from '../src/mail/dispatcher.js';
import { createMailRenderer } from '../src/mail/render.js';
import { createTransport, messageIdFor } from '../src/mail/transport.js';
import { drainOutbox } from '../src/worker/jobs.js';
import { createBenchDatabase, existingDatabase, progress, result, ROOT, rssSampler, scaled, runIfMain } from './lib.js';
import { bulkInsert, batchSize, handleOf } from './seed-large.js';

const PUBLIC_URL = 'https://contacts.example.com';
const MAIL_FROM = 'Contacts <contacts@contacts.example.com>';
const KINDS: MailKind[] = ['request.confirm', 'request.confirm', 'request.confirm', 'request.confirm', 'request.inform', 'request.inform', 'request.done', 'request.done', 'request.expired', 'request.refused'];

interface Sink {
  url: string;
  received(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const child: ChildProcess = fork(path.join(ROOT, 'bench/smtp-sink.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message: { port?: number }) => (message.port ? resolve(message.port) : reject(new Error('sink did not start'))));
    child.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    received: () =>
      new Promise((resolve) => {
        child.once('message', (message: { received: number }) => resolve(message.received));
        child.send({ count: true });
      }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

function payloadFor(i: number, kind: MailKind, recipientId: number): RequestMailPayload {
  const from = 2 + ((i * 7919) % 90_000);
  const to = 2 + ((i * 104_729) % 90_000);
  return {
    requestId: 1 + i,
    serviceName: `bench-service-${i.toString(36)}.pt`,
    serviceType: 'domain',
    roles: i % 3 === 0 ? ['tech', 'billing'] : ['tech'],
    fromHandle: handleOf(from),
    toHandle: handleOf(to),
    requesterHandle: handleOf(from),
    partyHandles: [handleOf(from), handleOf(to)],
    expiresAt: Date.UTC(2026, 11, 1, 12, 0),
    recipientHandle: handleOf(recipientId),
    failureReason: null,
    actorHandle: kind === 'request.refused' ? handleOf(to) : null,
    ...(kind === 'request.confirm' ? { token: `Bench${String(i).padStart(38, '0')}` } : {}),
  };
}

interface MailRow {
  kind: MailKind;
  recipient_address: string;
  recipient_name: string;
  locale: string;
  payload: string;
}

/** The i-th mail of the benchmark, as the domain would queue it. */
function mailRow(i: number): MailRow {
  const kind = KINDS[i % KINDS.length] as MailKind;
  const recipientId = 2 + (i % 90_000);
  return {
    kind,
    recipient_address: `${handleOf(recipientId)}@example.test`,
    recipient_name: `Customer ${recipientId}`,
    locale: i % 10 === 3 ? 'pt' : 'en',
    payload: JSON.stringify(payloadFor(i, kind, recipientId)),
  };
}

/** Outbox rows as src/domain/outbox.ts writes them (request_id NULL: no request rows needed). */
export async function insertOutbox(knex: Knex, count: number, offset: number): Promise<void> {
  const at = Date.now();
  function* rows() {
    for (let i = offset; i < offset + count; i += 1) {
      yield { ...mailRow(i), request_id: null, status: 'pending', attempts: 0, next_attempt_at: at, created_at: at };
    }
  }
  await knex.transaction((trx) => bulkInsert(trx, 'outbox', rows(), batchSize(trx, 10)));
}

/** The worker side: its dispatcher with its defaults, its renderer and SMTP transport, drained like its job does. */
export async function runWorker(knex: Knex, sink: Sink, expected: number): Promise<number> {
  // The worker logs every mail at info level; here to /dev/null, written synchronously like stdout.
  const logger = createLogger({ level: 'info', name: 'worker', destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const transport = createTransport({ smtpUrl: sink.url, mailDir: '/nonexistent', mailFrom: MAIL_FROM, publicUrl: PUBLIC_URL }, { logger });
  const renderer = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });
  const dispatcher = createDispatcher({ knex, transport, renderer, logger, workerId: `bench:${process.pid}` });
  let sent = 0;
  try {
    // The outbox job runs drainOutbox(dispatcher, 30 s) and is scheduled again right away when it returns.
    while (sent < expected) {
      const round = await drainOutbox(dispatcher, 30_000);
      if (round.retried + round.dead > 0) throw new Error(`dispatcher: ${round.retried} retried, ${round.dead} dead`);
      if (round.sent === 0) break;
      sent += round.sent;
    }
  } finally {
    await transport.close();
  }
  return sent;
}

/**
 * The baseline: `concurrency` plain loops over a pooled nodemailer transport (the pool settings of
 * src/mail/transport.ts) sending the same mails: rendered in the loop by the same renderer
 * (`render`), or rendered beforehand (send only). No database, no claims, leases or bookkeeping.
 */
async function runBaseline(sink: Sink, count: number, offset: number, concurrency: number, render: boolean): Promise<void> {
  const renderer = createMailRenderer({ i18n: createI18n(), publicUrl: PUBLIC_URL, defaultTimeZone: DEFAULT_TIME_ZONE });
  const prerendered = render ? [] : Array.from({ length: 100 }, (_, i) => renderer.render(mailRow(offset + i)));
  const transporter = nodemailer.createTransport({
    pool: true,
    url: sink.url,
    maxConnections: 5,
    maxMessages: 100,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    ignoreTLS: true,
    secure: false,
  });
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < count; i = next++) {
      const row = mailRow(offset + i);
      const mail = render ? renderer.render(row) : (prerendered[i % prerendered.length] as (typeof prerendered)[number]);
      await transporter.sendMail({
        from: MAIL_FROM,
        to: { name: row.recipient_name, address: row.recipient_address },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: messageIdFor(10_000_000 + offset + i, PUBLIC_URL),
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    transporter.close();
  }
}

/** CPU time (user + system, all threads of this process) in ms. */
function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

async function measure(what: () => Promise<void>): Promise<{ seconds: number; cpuMs: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await what();
  return { seconds: (performance.now() - started) / 1000, cpuMs: cpuMs(process.cpuUsage(cpu)) };
}

export async function benchMailDispatch(knex: Knex): Promise<void> {
  const total = scaled(20_000, 200);
  const warmup = Math.min(500, Math.ceil(total / 10));
  const concurrency = DEFAULT_CONCURRENCY;
  const sink = await startSink();
  try {
    progress(`mail-dispatch: warming up (${warmup} mails each way)`);
    await insertOutbox(knex, warmup, 0);
    if ((await runWorker(knex, sink, warmup)) !== warmup) throw new Error('warm-up: not every mail was sent');
    await runBaseline(sink, warmup, 0, concurrency, true);
    await runBaseline(sink, warmup, 0, concurrency, false);

    progress(`mail-dispatch: ${total} outbox rows, concurrency ${concurrency}`);
    await insertOutbox(knex, total, warmup);
    let received = await sink.received();
    const sampler = rssSampler(process.pid, 50);
    let sent = 0;
    const worker = await measure(async () => {
      sent = await runWorker(knex, sink, total);
    });
    const workerRss = sampler.stop();
    const notSent = Number(((await knex('outbox').whereNot('status', 'sent').count({ n: '*' }).first()) as { n: number | string }).n);
    const byWorker = (await sink.received()) - received;
    if (sent !== total || notSent !== 0 || byWorker !== total) throw new Error(`worker: sent ${sent}, sink received ${byWorker}, ${notSent} rows not sent, of ${total}`);
    progress(`  worker: ${total} mails in ${worker.seconds.toFixed(2)} s = ${(total / worker.seconds).toFixed(0)} mails/s, ${(worker.cpuMs / total).toFixed(3)} CPU ms/mail, RSS peak ${workerRss.toFixed(0)} MB`);

    const runs: Record<'render' | 'sendOnly', { seconds: number; cpuMs: number }> = { render: { seconds: 0, cpuMs: 0 }, sendOnly: { seconds: 0, cpuMs: 0 } };
    for (const mode of ['render', 'sendOnly'] as const) {
      received = await sink.received();
      runs[mode] = await measure(() => runBaseline(sink, total, warmup, concurrency, mode === 'render'));
      const got = (await sink.received()) - received;
      if (got !== total) throw new Error(`baseline: sink received ${got} of ${total}`);
      progress(`  baseline (${mode === 'render' ? 'render + send' : 'send only'}): ${(total / runs[mode].seconds).toFixed(0)} mails/s, ${(runs[mode].cpuMs / total).toFixed(3)} CPU ms/mail`);
    }

    const appMps = total / worker.seconds;
    const baselineMps = total / runs.render.seconds;
    const sendOnlyMps = total / runs.sendOnly.seconds;
    result('mail-dispatch', { ratio: appMps / baselineMps, app_mps: appMps, baseline_mps: baselineMps, mails: total, concurrency });
    result('mail-dispatch-send-only', { ratio: appMps / sendOnlyMps, baseline_mps: sendOnlyMps });
    result('mail-dispatch-cpu', { app_ms_per_mail: worker.cpuMs / total, baseline_ms_per_mail: runs.render.cpuMs / total, send_only_ms_per_mail: runs.sendOnly.cpuMs / total });
  } finally {
    await sink.stop();
  }
}

async function main(): Promise<void> {
  const url = process.env.BENCH_DB_URL;
  const fresh = url ? undefined : await createBenchDatabase();
  const database = url ? existingDatabase(url) : (fresh as NonNullable<typeof fresh>);
  const knex = database.connect();
  try {
    if (fresh) await migrateLatest(knex);
    await benchMailDispatch(knex);
  } finally {
    await knex.destroy();
    await fresh?.drop();
  }
}

runIfMain(import.meta.url, main);
