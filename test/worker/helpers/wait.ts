// Polling with a deadline, for conditions another process brings about.

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check` until it returns true (or a non-false value, which is returned), failing after
 * the deadline with `what` and, if `check` threw, its last error.
 */
export async function waitFor<T>(check: () => T | false | Promise<T | false>, options: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 15_000, intervalMs = 50, what = 'a condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
