// `npm start` as a newcomer runs it: migrations, web + worker as two processes, clean stop on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WEB_NODE_FLAGS } from '../src/web/node-flags.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('timed out');
}

/** The command lines of a process' direct children (Linux /proc). */
function childCommandLines(pid: number): string[] {
  const lines: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) lines.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('npm start', function () {
  this.timeout(60_000);
  let varDir: string;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    varDir = mkdtempSync(path.join(tmpdir(), 'contact-consent-start-'));
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(varDir, { recursive: true, force: true });
  });

  it('migrates a fresh SQLite file, runs web and worker, hints at the seed, and stops both on SIGTERM', async () => {
    const port = await freePort();
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'src/start.ts'], {
      env: { ...process.env, VAR_DIR: varDir, PORT: String(port), NODE_ENV: 'development', LOG_LEVEL: 'info', DATABASE_URL: '', SMTP_URL: '', MONGODB_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = exitOf(child);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 30_000);
    await waitFor(async () => output.includes('worker started'), 20_000);
    assert.match(output, /npm run seed/);
    assert.match(output, /listed, codes included and without login, at http:\/\/localhost:\d+\/dev\/mail/);
    // And the web process warns in its log.
    assert.match(output, /"level":40[^\n]*the development mailbox [^\n]*\/dev\/mail shows every mail/);
    // The web process runs with the V8 heap settings measured for it.
    const web = childCommandLines(child.pid as number).find((line) => line.includes('web/server.ts'));
    assert.ok(web, 'a web process under npm start');
    for (const flag of WEB_NODE_FLAGS) assert.ok(web.includes(flag), `${flag} in ${web}`);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    assert.match(output, /worker stopped/);
  });

  it('gives `npm run web` the same V8 heap settings as `npm start`', () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const flag of WEB_NODE_FLAGS) assert.ok(scripts.web?.includes(flag), `${flag} in "${scripts.web}"`);
  });

  it('refuses a bad configuration value with a one-line message', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/start.ts'], {
      env: { ...process.env, VAR_DIR: varDir, REQUEST_TTL: 'next week', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    assert.equal(await exitOf(child), 1);
    assert.match(stderr, /Configuration error: REQUEST_TTL="next week" is not a duration/);
  });
});
