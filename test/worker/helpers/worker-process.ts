// Runs the real worker (src/worker/main.ts) as a child process, the way `npm run worker` does,
// and keeps what it prints: its pino log lines (JSON on stdout) and stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

/** The repository root: the worker is started from there, as in production. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const WORKER_PUBLIC_URL = 'http://contacts.test';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The dispatcher's `claimed_by` value for this process (see main.ts), once it has started. */
  readonly workerId: string;
  readonly exited: Promise<ExitStatus>;
  /** Null while running. */
  exitStatus(): ExitStatus | null;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as pino lines; anything that is not JSON is kept as `{ msg: line }`. */
  logs(): LogLine[];
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  /** Resolves once the worker logged "worker started" (jobs scheduled, Agenda polling). */
  ready(timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
}

export interface WorkerEnv {
  databaseUrl: string;
  smtpUrl: string;
  /** Anything else: DISPATCH_EVERY, EXPIRE_EVERY, REMIND_BEFORE… (overrides the defaults below). */
  extra?: Record<string, string>;
}

const running = new Set<WorkerProcess>();
const varDirs: string[] = [];

function baseEnv(): Record<string, string> {
  // A clean environment: nothing from the developer's shell (DATABASE_URL, MONGODB_URL, SMTP_URL…)
  // leaks into the worker; only what node and tsx need to run.
  const keep: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) keep[name] = value;
  }
  return keep;
}

export function startWorker(options: WorkerEnv): WorkerProcess {
  const varDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-worker-'));
  varDirs.push(varDir);
  const env: Record<string, string> = {
    ...baseEnv(),
    NODE_ENV: 'test',
    DATABASE_URL: options.databaseUrl,
    SMTP_URL: options.smtpUrl,
    DISPATCH_EVERY: '200ms',
    EXPIRE_EVERY: '1 second',
    LOG_LEVEL: 'info',
    VAR_DIR: varDir,
    PUBLIC_URL: WORKER_PUBLIC_URL,
    SESSION_SECRET: 'worker-test-secret-worker-test-secret-0123',
    ...options.extra,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('the worker process did not start');
  const pid = child.pid;
  let out = '';
  let err = '';
  let status: ExitStatus | null = null;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // 'close', not 'exit': by then stdout and stderr are read to the end.
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
  });

  const logs = (): LogLine[] =>
    out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          return { level: 0, msg: line };
        }
      });

  const worker: WorkerProcess = {
    child,
    pid,
    // The id the worker chose (host name, pid and a random part), as its start line logs it.
    get workerId(): string {
      const started = logs().find((line) => line.msg === 'worker started');
      if (typeof started?.workerId !== 'string') throw new Error(`worker ${pid} has not logged its start yet`);
      return started.workerId;
    },
    exited,
    exitStatus: () => status,
    stdout: () => out,
    stderr: () => err,
    logs,
    async waitForLog(predicate, timeoutMs = 15_000, what = 'a log line') {
      let found: LogLine | undefined;
      await waitFor(
        () => {
          if (status) throw new Error(`worker ${pid} exited (${JSON.stringify(status)}) while waiting for ${what}; stderr: ${err}`);
          found = logs().find(predicate);
          return found !== undefined;
        },
        { timeoutMs, what: `${what} from worker ${pid}` },
      );
      return found as LogLine;
    },
    async ready(timeoutMs = 20_000) {
      await worker.waitForLog((line) => line.msg === 'worker started', timeoutMs, '"worker started"');
    },
    signal(signal) {
      if (status === null) child.kill(signal);
    },
  };
  running.add(worker);
  void exited.then(() => running.delete(worker));
  return worker;
}

/** For afterEach: SIGKILL whatever is still running and wait until it is gone. */
export async function killAllWorkers(): Promise<void> {
  const left = [...running];
  for (const worker of left) worker.signal('SIGKILL');
  await Promise.all(left.map((worker) => worker.exited));
  for (const dir of varDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
