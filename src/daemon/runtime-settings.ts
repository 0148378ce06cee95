/**
 * How the daemon's Node process is started: the systemd unit (`systemd/booksync.service`) and
 * `npm start` use exactly these (a unit test checks both), and `bench:sync` starts its 200,000-
 * document RSS run with them, so the memory it reports is the daemon's.
 *
 * Both bound memory without capping it (a heap cap could kill a large bank import):
 * - `--max-semi-space-size=8`: V8's young generation at 2 × 8 MB instead of 2 × 16 MB. A sync
 *   batch outlives a scavenge either way, so a larger nursery only held more garbage; measured on
 *   the 200k pull: peak RSS −15 to −25 MB, same docs/s.
 * - `MALLOC_ARENA_MAX=2`: glibc gives every thread that calls malloc an arena of its own (up to 8
 *   per core); LevelDB's compaction and the libuv pool threads then keep freed memory in arenas the
 *   others cannot reuse. Measured: peak RSS −20 to −25 MB. A common setting for Node services
 *   with native threads.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
