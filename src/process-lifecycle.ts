import type { ChildProcess } from 'node:child_process';
import { ConfigError } from './config.js';

/** Prints a configuration error as one clear line (no stack) and exits; rethrows anything else. */
export function exitOnStartupError(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits 0 (or 1 if stopping failed or took too long). */
export function onShutdown(stop: () => Promise<void>, timeoutMs = 15000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      console.error(`Shutdown after ${signal} took longer than ${timeoutMs} ms; exiting.`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/**
 * Runs `children` as one service (`npm start`): when one ends, or on `stop`, the others get
 * SIGTERM; once all have ended `onExit` gets the first failure's exit code, or 0. A failure is a
 * non-zero exit code at any time (also a child whose own shutdown failed), or a death by a signal
 * this did not send.
 */
export function superviseChildren(children: ChildProcess[], onExit: (code: number) => void): { stop: () => void } {
  let stopping = false;
  let exitCode = 0;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  for (const child of children) {
    child.once('exit', (code, signal) => {
      const failed = code !== null ? code !== 0 : !(stopping && signal === 'SIGTERM');
      if (failed && exitCode === 0) exitCode = code ?? 1;
      stop();
      if (children.every((other) => other.exitCode !== null || other.signalCode !== null)) onExit(exitCode);
    });
  }
  return { stop };
}
