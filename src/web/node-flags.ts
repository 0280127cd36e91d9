// V8 heap settings of the web process (used by `npm start`, `npm run web` and the benchmark).
// With V8's defaults the heap of a busy web process grew to ~260 MB RSS under 20 concurrent
// page loads, although what it keeps alive is ~25 MB: garbage was collected late, not kept.
// A smaller young generation (8 MB semi-spaces) and an old-generation ceiling of 128 MB held the
// peak at ~170-190 MB with the same or better throughput (`npm run bench`, contacts-page).
export const WEB_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=8', '--max-old-space-size=128']);
