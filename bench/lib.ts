// Shared pieces of the benchmark: scale, progress output, databases, child processes, RSS sampling.
// Progress goes to stderr; the machine-readable result lines go to stdout (see result()).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import type { DatabaseClient } from '../src/config.js';
import { createKnex } from '../src/db/knex.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** BENCH_SCALE (default 1) scales every data size; 0.01 gives a quick run. */
export const SCALE = ((): number => {
  const raw = process.env.BENCH_SCALE;
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 10) throw new Error(`BENCH_SCALE="${raw}" must be a number in (0, 10]`);
  return value;
})();

export function scaled(base: number, min = 1): number {
  return Math.max(min, Math.round(base * SCALE));
}

/** Seconds of each autocannon run: at least 10 at the default scale, shorter for quick runs. */
export const LOAD_SECONDS = process.env.BENCH_DURATION ? Number(process.env.BENCH_DURATION) : SCALE >= 1 ? 10 : 3;

const started = Date.now();
export function progress(message: string): void {
  process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

/** One result line on stdout: `name key=value …`. */
export function result(name: string, fields: Record<string, string | number>): void {
  const parts = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'number' ? format(value) : value}`);
  process.stdout.write(`${name} ${parts.join(' ')}\n`);
}

export function format(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 10 ? value.toFixed(1) : value.toFixed(3);
}

export function isPostgresUrl(url: string | undefined): url is string {
  return /^postgres(ql)?:\/\//.test(url ?? '');
}

export interface BenchDatabase {
  url: string;
  client: DatabaseClient;
  connect(options?: { poolMax?: number }): Knex;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/' + name;
  return parsed.toString();
}

/**
 * A fresh, empty database: a SQLite file in a temp dir, or (when BENCH_DATABASE_URL is a postgres
 * URL) a scratch database created next to that one and dropped afterwards.
 */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const serverUrl = process.env.BENCH_DATABASE_URL;
  if (isPostgresUrl(serverUrl)) {
    const name = `cc_bench_${process.pid}_${Date.now().toString(36)}`;
    const admin = createKnex({ url: serverUrl, client: 'pg', poolMax: 1 });
    await admin.raw(`CREATE DATABASE ${name}`);
    await admin.destroy();
    const url = withDatabase(serverUrl, name);
    return {
      url,
      client: 'pg',
      connect: (options = {}) => createKnex({ url, client: 'pg', poolMax: options.poolMax }),
      async drop() {
        const dropper = createKnex({ url: serverUrl, client: 'pg', poolMax: 1 });
        await dropper.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await dropper.destroy();
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'contact-consent-bench-'));
  const url = `sqlite:${path.join(dir, 'bench.sqlite3')}`;
  return {
    url,
    client: 'sqlite3',
    connect: () => createKnex({ url, client: 'sqlite3' }),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database made by another process (run.ts passes BENCH_DB_URL to its children). */
export function existingDatabase(url: string): Pick<BenchDatabase, 'url' | 'client' | 'connect'> {
  const client: DatabaseClient = isPostgresUrl(url) ? 'pg' : 'sqlite3';
  return { url, client, connect: (options = {}) => createKnex({ url, client, poolMax: options.poolMax }) };
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number = process.pid): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number = process.pid): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds (user + system) of one thread of a process; the main thread's id is the process id. */
export function threadCpuSeconds(pid: number = process.pid, tid: number = pid): number {
  return statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
}

function statCpuSeconds(file: string): number {
  try {
    const stat = readFileSync(file, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

/** Samples a process' RSS every `everyMs` and keeps the peak. */
export function rssSampler(pid: number = process.pid, everyMs = 50): { peak(): number; stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, everyMs);
  timer.unref();
  return {
    peak: () => Math.max(peak, rssMb(pid)),
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssMb(pid));
      return peak;
    },
  };
}

/** Starts `node --import tsx <script>` (one process, so its pid is the script's own). */
export function spawnTs(
  script: string,
  env: Record<string, string>,
  options: { stdout?: 'inherit' | 'ignore' | 'pipe'; nodeFlags?: readonly string[] } = {},
): ChildProcess {
  // BENCH_CHILD_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/profiles") profiles the benchmark's children.
  const extra = (process.env.BENCH_CHILD_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return spawn(process.execPath, [...(options.nodeFlags ?? []), ...extra, '--import', 'tsx', path.resolve(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'],
  });
}

/** Resolves with the child's exit code (signals count as failure). */
export function exited(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

export async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await done;
  clearTimeout(timer);
}

/** Polls `url` until it answers 2xx, or fails after `timeoutMs`. */
export async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** Deterministic PRNG (mulberry32), so every run seeds the same data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `main` when the module is the process's entry script, exiting 0 on success and 1 on error. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
