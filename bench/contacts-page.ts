// contacts-page: loads GET /contacts of the real web process (logged in as the account holding
// 10,000 services) with autocannon, against a bare Express + EJS baseline rendering the same
// template from memory. Also reports the web process' peak RSS under that load.
//
//   BENCH_DB_URL=… BENCH_SEED='{"bigHandle":…}' tsx bench/contacts-page.ts   (run.ts does this)
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { cpuSeconds, freePort, LOAD_SECONDS, progress, result, rssSampler, spawnTs, stopChild, waitForHttp, runIfMain } from './lib.js';
import type { SeedInfo } from './seed-large.js';
import { WEB_NODE_FLAGS } from '../src/web/node-flags.js';

export const CONNECTIONS = 20;
/** Seconds of load before each measured server is measured (JIT, caches, pools). */
const WARMUP_SECONDS = Math.min(2, LOAD_SECONDS);

export interface LoadResult {
  label: string;
  path: string;
  requests: number;
  seconds: number;
  rps: number;
  p99: number;
  p50: number;
  errors: number;
  /** CPU time the server process used per request (all its threads): unaffected by other load on the machine. */
  cpuMs: number;
}

export async function load(
  baseUrl: string,
  path: string,
  label: string,
  seconds: number,
  options: { headers?: Record<string, string>; serverPid?: number } = {},
): Promise<LoadResult> {
  const started = Date.now();
  const cpuBefore = options.serverPid ? cpuSeconds(options.serverPid) : 0;
  const outcome = await autocannon({
    url: baseUrl + path,
    connections: CONNECTIONS,
    duration: seconds,
    headers: options.headers ?? {},
  });
  const cpu = options.serverPid ? cpuSeconds(options.serverPid) - cpuBefore : 0;
  const elapsed = (Date.now() - started) / 1000;
  const errors = outcome.errors + outcome.timeouts + outcome.non2xx;
  const total = outcome['2xx'];
  return {
    label,
    path,
    requests: total,
    seconds: outcome.duration || elapsed,
    rps: total / (outcome.duration || elapsed),
    p99: outcome.latency.p99,
    p50: outcome.latency.p50,
    errors,
    cpuMs: total > 0 ? (cpu * 1000) / total : 0,
  };
}

function setCookies(response: Response): string[] {
  return response.headers.getSetCookie().map((cookie) => cookie.split(';')[0] as string);
}

/** Logs in through the real forms (GET /login for the CSRF token, POST /login) and returns the Cookie header. */
async function login(baseUrl: string, handle: string, password: string): Promise<string> {
  const page = await fetch(`${baseUrl}/login`);
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  const cookie = setCookies(page).join('; ');
  if (!csrf || !cookie) throw new Error('login page without CSRF token or session cookie');
  const response = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ handle, password, _csrf: csrf }).toString(),
  });
  if (response.status !== 303) throw new Error(`login failed with status ${response.status}`);
  const session = setCookies(response).join('; ');
  if (!session) throw new Error('login set no session cookie');
  return session;
}

/** Fetches a page once and checks it is the logged-in contacts table with the expected rows. */
async function check(baseUrl: string, path: string, cookie: string, expectRows: number): Promise<void> {
  const response = await fetch(baseUrl + path, { headers: { cookie } });
  const html = await response.text();
  if (response.status !== 200) throw new Error(`${path}: status ${response.status}`);
  const rows = (html.match(/<th scope="row">/g) ?? []).length;
  if (rows !== expectRows) throw new Error(`${path}: ${rows} rows instead of ${expectRows}`);
  if (!/name="_csrf" value="[^"]+"/.test(html)) throw new Error(`${path}: no CSRF token in the page`);
}

/** All scenarios together: requests over time, the worst p99, CPU per request over all requests. */
function combine(runs: LoadResult[]): { rps: number; p99: number; cpuMs: number } {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  const cpuMs = runs.reduce((sum, run) => sum + run.cpuMs * run.requests, 0);
  return { rps: requests / seconds, p99: Math.max(...runs.map((run) => run.p99)), cpuMs: cpuMs / requests };
}

async function startServer(script: string, env: Record<string, string>, port: number, nodeFlags: readonly string[] = []): Promise<ChildProcess> {
  const child = spawnTs(script, { ...env, PORT: String(port) }, { nodeFlags });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
  return child;
}

export async function benchContactsPage(databaseUrl: string, seed: SeedInfo): Promise<void> {
  const pageCount = Math.ceil(seed.bigServices / 50);
  // Three quarters down the list (read from the end since it is past the middle); page 2 of a short one.
  const deepPage = pageCount >= 2 ? Math.max(2, Math.floor(pageCount * 0.75)) : 1;
  const searchRows = Math.min(50, seed.searchMatches);
  const scenarios = [
    { label: 'page1', path: '/contacts', rows: Math.min(50, seed.bigServices) },
    { label: 'deep', path: `/contacts?page=${deepPage}`, rows: Math.min(50, seed.bigServices - (deepPage - 1) * 50) },
    { label: 'search', path: `/contacts?q=${encodeURIComponent(seed.search)}`, rows: searchRows },
  ];

  // ---- the application
  const appPort = await freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;
  progress(`starting the web process on ${appUrl}`);
  const app = await startServer(
    'src/web/server.ts',
    {
      DATABASE_URL: databaseUrl,
      NODE_ENV: 'production',
      SESSION_SECRET: randomBytes(32).toString('hex'),
      PUBLIC_URL: appUrl,
    },
    appPort,
    // The same V8 heap settings as `npm start` and `npm run web`.
    WEB_NODE_FLAGS,
  );
  const appRuns: LoadResult[] = [];
  const sampler = rssSampler(app.pid as number, 20);
  try {
    const cookie = await login(appUrl, seed.bigHandle, seed.password);
    for (const scenario of scenarios) await check(appUrl, scenario.path, cookie, scenario.rows);
    progress('warming up the web process');
    for (const scenario of scenarios) await load(appUrl, scenario.path, scenario.label, WARMUP_SECONDS, { headers: { cookie } });
    for (const scenario of scenarios) {
      progress(`autocannon ${CONNECTIONS} connections × ${LOAD_SECONDS} s on the app: GET ${scenario.path}`);
      const run = await load(appUrl, scenario.path, scenario.label, LOAD_SECONDS, { headers: { cookie }, serverPid: app.pid });
      if (run.errors > 0) throw new Error(`${scenario.path}: ${run.errors} errors or non-2xx responses`);
      progress(`  ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.cpuMs.toFixed(2)} CPU ms/request, RSS peak ${sampler.peak().toFixed(0)} MB`);
      appRuns.push(run);
    }
    // Requests autocannon gave up on at the end may still be running: let them finish first.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  } finally {
    sampler.stop();
    await stopChild(app);
  }
  const peakRss = sampler.peak();

  // ---- the baselines: the bare server of the issue (EJS's default options), and the same server
  // compiling the views as the app does, so the gain of those options can be told apart.
  const baseRun = await runBaseline({}, 'baseline');
  const sameViewsRun = await runBaseline({ BASELINE_VIEWS: 'app' }, 'baseline with the app\'s view options');

  const app_ = combine(appRuns);
  for (const run of appRuns) {
    result(`contacts-page-${run.label}`, { ratio: run.rps / baseRun.rps, app_rps: run.rps, p50_ms: run.p50, p99_ms: run.p99, cpu_ms_per_req: run.cpuMs });
  }
  result('contacts-page', { ratio: app_.rps / baseRun.rps, app_rps: app_.rps, baseline_rps: baseRun.rps, p99_ms: app_.p99 });
  result('contacts-page-cpu', { ratio: baseRun.cpuMs / app_.cpuMs, app_ms_per_req: app_.cpuMs, baseline_ms_per_req: baseRun.cpuMs });
  result('contacts-page-same-views', { ratio: app_.rps / sameViewsRun.rps, baseline_rps: sameViewsRun.rps, baseline_ms_per_req: sameViewsRun.cpuMs });
  result('web-rss', { peak_mb: peakRss });
}

/** Starts bench/baseline-server.ts with `env`, loads it like the app, stops it. */
async function runBaseline(env: Record<string, string>, label: string): Promise<LoadResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  progress(`starting the ${label} on ${url}`);
  const baseline = await startServer('bench/baseline-server.ts', env, port);
  try {
    await check(url, '/contacts', '', 50);
    await load(url, '/contacts', 'warmup', WARMUP_SECONDS);
    progress(`autocannon ${CONNECTIONS} connections × ${LOAD_SECONDS} s on the ${label}`);
    const run = await load(url, '/contacts', 'baseline', LOAD_SECONDS, { serverPid: baseline.pid });
    if (run.errors > 0) throw new Error(`${label}: ${run.errors} errors`);
    progress(`  ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.cpuMs.toFixed(2)} CPU ms/request`);
    return run;
  } finally {
    await stopChild(baseline);
  }
}

async function main(): Promise<void> {
  const url = process.env.BENCH_DB_URL;
  const seed = process.env.BENCH_SEED;
  if (!url || !seed) throw new Error('BENCH_DB_URL and BENCH_SEED are set by bench/run.ts');
  await benchContactsPage(url, JSON.parse(seed) as SeedInfo);
}

runIfMain(import.meta.url, main);
