/**
 * How the daemon's Node process is started: the systemd unit (`systemd/booksync.service`) and
 * `npm start` use exactly these (a unit test checks both), and `bench:sync` starts every
 * measurement and its 200,000-document RSS run with them, so the speed and memory it reports are
 * the daemon's.
 *
 * All bound memory without capping it (a heap cap could kill a large bank import):
 * - `--max-semi-space-size=8`: V8's young generation at 2 × 8 MB instead of 2 × 16 MB. A sync
 *   batch outlives a scavenge either way, so a larger nursery only held more garbage and peak
 *   RSS without more docs/s (BENCHMARKS.md, Sync).
 * - `--heap-growing-percent=100`: after each full GC V8 lets the old generation grow to twice what
 *   survived, not by a factor it picks from the GC and allocation speeds (up to 4×). A pull keeps
 *   little alive (its pages in flight) but allocates fast, so V8 picked large factors and the heap
 *   stood far above what was alive at the peak; with 100% peak RSS drops and docs/s holds
 *   (BENCHMARKS.md, Sync).
 *   @link https://chromium.googlesource.com/v8/v8/+/refs/heads/main/src/heap/heap-controller.cc
 * - `MALLOC_ARENA_MAX=2`: glibc gives every thread that calls malloc an arena of its own (up to 8
 *   per core); LevelDB's compaction and the libuv pool threads then keep freed memory in arenas the
 *   others cannot reuse (peak RSS: BENCHMARKS.md, Sync). A common setting for Node services
 *   with native threads.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=8',
  '--heap-growing-percent=100',
];

export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
