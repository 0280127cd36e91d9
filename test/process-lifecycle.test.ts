// How `npm start` supervises its two processes, with real child processes standing in for them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { superviseChildren } from '../src/process-lifecycle.js';

/** A Node.js process running `code`; it prints "ready" once its signal handlers are in place. */
async function node(code: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `${code}; console.log('ready'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', () => resolve());
  });
  return child;
}

const STOPS_CLEANLY = `process.on('SIGTERM', () => process.exit(0))`;
const FAILS_TO_STOP = `process.on('SIGTERM', () => process.exit(1))`;

function supervise(children: ChildProcess[]): { stop: () => void; exitCode: Promise<number> } {
  let stop!: () => void;
  const exitCode = new Promise<number>((resolve) => ({ stop } = superviseChildren(children, resolve)));
  return { stop, exitCode };
}

describe('process lifecycle: supervising the web and worker processes', () => {
  const started: ChildProcess[] = [];
  async function start(code: string): Promise<ChildProcess> {
    const child = await node(code);
    started.push(child);
    return child;
  }
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('stops both on a signal and exits 0 when both stop cleanly', async () => {
    const children = [await start(STOPS_CLEANLY), await start(STOPS_CLEANLY)];
    const { stop, exitCode } = supervise(children);
    stop();
    assert.equal(await exitCode, 0);
    assert.deepEqual(children.map((child) => child.exitCode), [0, 0]);
  });

  it('exits non-zero when a process fails to stop cleanly, though it was asked to stop', async () => {
    const children = [await start(STOPS_CLEANLY), await start(FAILS_TO_STOP)];
    const { stop, exitCode } = supervise(children);
    stop();
    assert.equal(await exitCode, 1);
  });

  it('when one process dies, stops the other and exits with the first failure\'s code', async () => {
    const children = [await start(STOPS_CLEANLY), await start(FAILS_TO_STOP)];
    const { exitCode } = supervise(children);
    children[0]?.kill('SIGKILL');
    // Killed by a signal no one here sent: a failure (1), which the other's failed stop does not replace.
    assert.equal(await exitCode, 1);
    assert.equal(children[1]?.exitCode, 1);

    // One that fails on its own (exit code 3, when told to by SIGUSR2, once supervised).
    const more = [await start(`${STOPS_CLEANLY}; process.on('SIGUSR2', () => process.exit(3))`), await start(STOPS_CLEANLY)];
    const supervised = supervise(more);
    more[0]?.kill('SIGUSR2');
    assert.equal(await supervised.exitCode, 3);
    assert.equal(more[1]?.exitCode, 0, 'the other was stopped');
  });
});
