// `npm run bench` is not timed here (tests never time things): this runs it on a tiny database
// for a second per load, only to show that every part still runs against the current app and
// views and prints every figure it promises. Its numbers at this scale mean nothing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../../bench/lib.js';

const FIGURES = [
  'seed',
  'contacts-page-page1',
  'contacts-page-deep',
  'contacts-page-search',
  'contacts-page',
  'contacts-page-cpu',
  'contacts-page-same-views',
  'web-rss',
  'mail-dispatch',
  'mail-dispatch-send-only',
  'mail-dispatch-cpu',
  'expiry',
];

let running: ChildProcess | undefined;

function runBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts'], {
      cwd: ROOT,
      // SQLite in a temp dir, whatever the environment says; its own process group, so that a
      // timed-out run can be stopped with its servers.
      env: { ...process.env, BENCH_SCALE: '0.001', BENCH_DURATION: '1', BENCH_KEEP: '', BENCH_DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running = child;
    child.on('exit', () => (running = undefined));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench (a tiny scale, as a smoke test)', function () {
  this.timeout(180_000);
  after(() => {
    if (running?.pid) process.kill(-running.pid, 'SIGKILL');
  });

  it('runs every part and prints every figure with numeric values', async () => {
    const { code, stdout, stderr } = await runBench();
    assert.equal(code, 0, `bench exited with ${code}:\n${stderr.slice(-3000)}`);
    const lines = new Map(
      stdout
        .trim()
        .split('\n')
        .map((line) => {
          const [name, ...fields] = line.split(' ');
          return [name as string, Object.fromEntries(fields.map((field) => field.split('=') as [string, string]))];
        }),
    );
    assert.deepEqual([...lines.keys()], FIGURES);
    for (const [name, fields] of lines) {
      assert.ok(Object.keys(fields).length > 0, `${name} has no fields`);
      for (const [key, value] of Object.entries(fields)) assert.ok(Number.isFinite(Number(value)), `${name} ${key}=${value} is not a number`);
    }
    assert.ok(Number(lines.get('contacts-page')?.ratio) > 0);
    assert.ok(Number(lines.get('mail-dispatch')?.ratio) > 0);
    assert.equal(lines.get('expiry')?.requests, '100');
  });
});
