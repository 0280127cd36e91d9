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
