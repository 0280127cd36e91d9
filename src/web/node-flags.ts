// V8 heap settings of the web process (used by `npm start`, `npm run web` and the benchmark).
// With V8's defaults the heap of a busy web process grew to ~260 MB RSS under 20 concurrent
// page loads, although what it keeps alive is ~30 MB: garbage was collected late, not kept.
// A smaller young generation (8 MB semi-spaces) and an old-generation ceiling of 128 MB held the
// peak at ~170-190 MB with the same or better throughput (`npm run bench`, contacts-page).
//
// Under that load about 40 MB/s of short-lived objects still reach the old generation, and V8
// gives an old generation capped at 128 MB its smallest growing factor: it grew only from the
// ~31 MB it keeps to ~44 MB before the next full collection, about four times a second. Each
// full collection's marking and sweeping threads compete with the main thread for the two cores
// for 20-60 ms, and requests in flight during one made up 75 % of the slowest 2.5 %. Letting
// the old generation grow to twice what it keeps (--heap-growing-percent=100; the 128 MB ceiling
// still bounds it) cut those collections by about 60 %: contacts-page ratio 0.513 → 0.532 and
// 0.472 → 0.549, p99 48-49 → 42-43 ms, CPU per request 1.55 → 1.33 ms, peak RSS 175 → 193 MB
// (alternating pairs on one seeded database).
export const WEB_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=8', '--max-old-space-size=128', '--heap-growing-percent=100']);
