/* Helpers shared by the benchmarks (bench/bench_*.c): the 1.1B-shaped
 * synthetic llama they measure, generated once per build directory into
 * <build>/model-cache/ by the `wattlens` CLI and reused by every bench.
 * Also making and removing a bench's temporary directory, a small random generator
 * for test data, and the pinned core round-trip probe that tells whether
 * the two cores sat near or far apart during a measurement, and the
 * command-line conventions every bench follows (-h / --help prints its
 * usage and exits 0; an argument it does not take is an error, exit 2).
 * Bench-only code, linked into each bench; not part of libwattlens.
 * wl_bench_synth_1b and wl_bench_rmtree run child processes: call them from
 * main.
 */
#ifndef WL_BENCH_SUPPORT_H
#define WL_BENCH_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The wattlens CLI the benches run: $WL_BENCH_CLI when set (e.g. another
 * build's, to compare two), else this build's. */
const char *wl_bench_cli_path(void);

/* Writes into path (caller buffer of size bytes) the file of a synthetic
 * llama shaped like a 1.1B-parameter model (22 layers, dim 2048, FFN 5632,
 * 32 heads, 4 KV heads, 32000 vocab; seed 1) with weights of the given
 * type ("q8_0" or "q4_k"):
 * <build>/model-cache/llama-1.1b-shape-VERSION-TYPE-VOCAB.gguf, or in
 * $WL_BENCH_MODEL_CACHE when set (a directory that build directories can
 * share; made with its parents). VERSION is the generator's (bumped when
 * what is generated changes), VOCAB "spm" when the shared test data's llama
 * SPM vocabulary is there and used, else "bytes" (a synthetic one): the
 * name says all the model is made from, so a cached file is used when it
 * loads (a truncated or overwritten one does not) and is made again
 * otherwise, said on stderr. It is generated with `wattlens model synth -o
 * PATH` (wl_bench_cli_path; run without a shell, so any path works), which
 * writes a temporary file and renames it into place (removed when
 * interrupted): an interrupted or concurrent run leaves no half-written
 * model. Says what it does and why it failed on stderr, prefixed "who: ".
 * Returns 0 when the file is there, -1 when it could not be made. */
int wl_bench_synth_1b(const char *who, const char *type, char *path, size_t size);

/* Makes a new directory TMPDIR/PREFIX-XXXXXX (/tmp when TMPDIR is unset
 * or empty) and writes its name into buf (size bytes). Returns 0, or -1
 * after saying on stderr, prefixed "who: ", which directory it could not
 * make and why. */
int wl_bench_mkdtemp(const char *who, const char *prefix, char *buf, size_t size);

/* Removes the directory tree dir (rm -rf, no shell); says on stderr,
 * prefixed "who: ", when it could not. */
void wl_bench_rmtree(const char *who, const char *dir);

/* Next value of a xorshift64 generator whose state the caller keeps
 * (seeded non-zero): fast, reproducible, not for anything but test data. */
uint64_t wl_bench_xorshift64(uint64_t *state);

/* The next xorshift64 value as a float in [-1, 1) (16 bits of it). */
float wl_bench_frand(uint64_t *state);

/* Core round trip (ns) from which two cores count as far apart. On the
 * development VM, session 15's unpinned probe read 53-293 ns in the
 * low-bandwidth state and 538-1153 ns in the high one; session 16's pinned
 * probe read 51-355 ns (median 108), all in the low state, and later
 * sessions' pinned probe ~100 ns near and ~510-630 ns far
 * (docs/internals/kernels-decode-far.md, sessions 15-21). */
#define WL_BENCH_FAR_RT_NS 300.0

/* One core round-trip reading: 20000 round trips or 50 ms between two
 * pinned threads (wl_corelat_measure); -1 on failure or when the two did not
 * run pinned to two CPUs (then the figure is not a trip between cores). */
double wl_bench_core_roundtrip_ns(void);

/* What the core round-trip probe reads, for a bench to print once (no
 * newline), from wl_corelat_cpus: its two CPUs by number, and, when the
 * process may run on more than two, that the near / far split is about
 * those two only: the benches' pools are not pinned, so their threads may
 * have run elsewhere. One CPU, or no affinity to read: that no core
 * distance is read. Writes into buf (size bytes); returns buf. */
const char *wl_bench_core_probe_text(char *buf, size_t size);

/* A share given as a fraction (0..1) as "N %" (no decimals), or "unknown"
 * when it is negative (the membw and hugepage readers' "could not read",
 * e.g. no /proc/self/smaps). Writes into buf (size bytes); returns buf. */
const char *wl_bench_share_text(char *buf, size_t size, double fraction);

/* Where two cores sat over a measurement, from the round trips read before
 * and after it: 1 far apart (both >= WL_BENCH_FAR_RT_NS), 0 near (both
 * known and below it), -1 unknown or mixed (the state changed, or a reading
 * failed). */
int wl_bench_core_distance(double rt_before_ns, double rt_after_ns);

/* A bench's usage text is printed as given: a first line "usage: NAME
 * [ARGS]", then what it measures, the environment variables it reads and,
 * where known, how long it takes. */

/* True when arg asks for the usage: "-h" or "--help". */
bool wl_bench_arg_is_help(const char *arg);

/* Prints "who: MESSAGE", the usage's first line and where the rest is, on
 * stderr; returns 2, the exit status of a command-line error. */
int wl_bench_usage_error(const char *who, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when list (comma-separated names, case-insensitive; NULL: every
 * name) names item. */
bool wl_bench_list_has(const char *list, const char *item);

/* Checks a list of names (an option's or a variable's, what: "-t",
 * "WL_BENCH_TYPES"), before any measuring: a typo must not measure nothing,
 * or an empty table after seconds of bandwidth reads. -1 when every
 * comma-separated item of list is one of the n names (as wl_bench_list_has
 * matches them); else 2 after wl_bench_usage_error "WHAT: 'ITEM' is not one
 * of NAME, NAME (in 'LIST')". */
int wl_bench_check_list(const char *who, const char *usage, const char *what, const char *list,
                        const char *const *names, size_t n);

/* The WL_BENCH_* variables a bench reads are checked before any work, as
 * its arguments are: a value it does not take is an error (exit 2), never
 * silently replaced by a default or clamped (a typo must not start a run of
 * minutes, or measure something else than asked). Each returns -1 with *out
 * set (def when the variable is unset or empty), else 2 after
 * wl_bench_usage_error naming the variable and the values it takes. */

/* An integer in lo..hi, 0 <= lo <= hi: decimal digits only (no sign, no
 * blanks, nothing after them; util/parse_num.h's wl_parse_u64_digits). */
int wl_bench_env_int(const char *who, const char *usage, const char *name, int def, int lo, int hi,
                     int *out);

/* One of the n names (any case): *out its index; the error says
 * "NAME: 'VALUE' is not one of A, B". */
int wl_bench_env_choice(const char *who, const char *usage, const char *name,
                        const char *const *names, size_t n, size_t def, size_t *out);

/* A switch: 1, yes or true; 0, no or false (any case). */
int wl_bench_env_switch(const char *who, const char *usage, const char *name, bool def, bool *out);

/* The command line of a bench that takes no arguments: -1 when there are
 * none (run the bench); 0 after printing usage on stdout for -h / --help;
 * 2 after wl_bench_usage_error for anything else. main returns the value
 * when it is not -1. */
int wl_bench_args_none(int argc, char **argv, const char *who, const char *usage);

#endif
