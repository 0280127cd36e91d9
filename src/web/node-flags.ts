// V8 heap settings of the web process (used by `npm start`, `npm run web` and the benchmark).
// With V8's defaults the heap of a busy web process grew to ~260 MB RSS under 20 concurrent
// page loads, although what it keeps alive is ~25-30 MB: garbage was collected late, not kept.
// A smaller young generation (8 MB semi-spaces) and an old-generation ceiling of 128 MB held the
// peak at ~170-190 MB with the same or better throughput (`npm run bench`, contacts-page).
//
// Under that load about 40 MB/s of short-lived objects still reach the old generation, which V8
// then collected in full about four times a second (its default growing factor let the old
// generation grow only ~1.5× past the ~30 MB it keeps). Each full collection's marking and
// sweeping threads take the CPU of the main thread for 20-60 ms on a 2-core machine, and the
// requests in flight meanwhile made up 75-80 % of the slowest 2.5 %. Letting the old generation
// grow to twice what it keeps before the next full collection (--heap-growing-percent=100) cut
// those collections by about 60 %: +14-17 % requests per second, p99 48-49 → 42-43 ms, CPU per
// request 1.55 → 1.33 ms, peak RSS 175 → 193 MB (alternating pairs on one seeded database).
export const WEB_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=8', '--max-old-space-size=128', '--heap-growing-percent=100']);
