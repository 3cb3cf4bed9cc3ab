/* Shared declarations for the wattlens CLI.
 *
 * Each subcommand lives in cli/cmd_<name>.c and defines
 *     const struct wl_cli_command wl_cli_cmd_<name> = {...};
 * The build generates the list of commands from the file names, so adding a
 * command is adding its file. Commands parse their options with getopt_long,
 * print data to stdout and diagnostics to stderr, and return the process exit
 * status. Only cli/ decides to exit; the library never does.
 */
#ifndef WL_CLI_H
#define WL_CLI_H

#include "engine/tensor_type.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct wl_cli_command {
    const char *name;
    const char *summary;            /* one line, shown by `wattlens --help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Exit statuses used by every command. */
enum {
    WL_EXIT_OK = 0,
    WL_EXIT_FAIL = 1,  /* the operation failed */
    WL_EXIT_USAGE = 2, /* bad command line */
};

/* Diagnostics. The three below print "wattlens CMD: message" to stderr with
 * the message escaped (cli_text.h: \xNN, \u00NN, \\): it can quote a key
 * from a model file, a sysfs path or a stored run's id. */

/* Prints "wattlens CMD: message" and "Try 'wattlens CMD --help'." to stderr
 * (cmd NULL: "wattlens: message", "Try 'wattlens --help'."); returns
 * WL_EXIT_USAGE. Use it for command-line mistakes, after which the command
 * should exit with the result. */
int wl_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The -m FILE given is empty (`-m "$MODEL"` with MODEL unset): a
 * command-line mistake, not a file that cannot be opened. Prints "-m is
 * empty: give a GGUF file name" as a usage error and returns true; false
 * for NULL (no -m) or a name. */
bool wl_cli_model_name_empty(const char *cmd, const char *model);

/* Prints "wattlens CMD: message" to stderr; returns WL_EXIT_FAIL. */
int wl_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True under the global -q/--quiet (or WATTLENS_LOG=error): only errors go
 * to stderr, so progress lines, notes and warnings are left out. */
bool wl_cli_quiet(void);

/* Prints "wattlens CMD: message" to stderr unless wl_cli_quiet(): progress
 * and notes, not errors. */
void wl_cli_note(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing for option values: the whole string must be a
 * decimal number within [min, max]. An integer is digits with an optional
 * leading '-' ("-5", "007"); a number may also have a '.' and an exponent
 * ("0.5", "-.5", "5.", "1e-3", "2E+2"; an underflow such as "1e-400" is the
 * nearest value, 0). Refused: blanks (leading or trailing), '+' before the
 * number, hex ("0x10", "0x1p-1"), "inf", "nan", a ',' for the decimal point,
 * and an overflow. On failure prints a usage error naming the option and
 * returns false, leaving *out untouched. */
bool wl_cli_parse_long(const char *cmd, const char *opt, const char *s, long min, long max,
                       long *out);
bool wl_cli_parse_double(const char *cmd, const char *opt, const char *s, double min, double max,
                         double *out);

/* Reads all of path ('-' = stdin) into *data (malloc'd, NUL-terminated after
 * its *n bytes, which may hold NULs); 0 or an errno value: a read error
 * (EIO when the stream gave none), ENOMEM, EISDIR for a directory (which
 * fopen accepts on Linux), and EFBIG when it holds more than max bytes.
 * A regular file over max (stdin redirected from one too) is refused before
 * it is read, with its size in *n; a pipe or a device is read to max + 1
 * bytes at most, and then *n is 0 (its size is not known). */
int wl_cli_read_all(const char *path, size_t max, char **data, size_t *n);

/* Parses a KV cache type for option opt (--cache-type, --kv-type): "f16" or
 * "f32" in any case, as the weight types are read. On failure prints a usage
 * error ("OPT must be f16 or f32 (the engine's KV cache types), not 'S'")
 * and returns false. */
bool wl_cli_parse_cache_type(const char *cmd, const char *opt, const char *s, enum wl_ttype *out);

/* A generation phase's time and rate into buf: "decode 12.3 ms (45.67
 * tokens/s<suffix>)" for count tokens in s seconds; "(n/a: no decode step)"
 * when count is 0 (one generated token comes from the prefill's logits, so
 * there is no decode step to time); "(n/a)" when steps ran but s is 0 (the
 * clock could not tell). Returns buf. */
const char *wl_cli_phase_text(const char *name, double s, int64_t count, const char *suffix,
                              char *buf, size_t size);

/* The CPU's model name from the cpuinfo of the CPU the sensors read
 * (wl_sensor_cpuinfo_path: /proc/cpuinfo, $WATTLENS_PROC_ROOT/cpuinfo when
 * set, a proc/cpuinfo next to $WATTLENS_SYSFS_ROOT given alone; a regular
 * file only) into buf, as wl_cli_cpuinfo_model_name gives it ("" when
 * unknown: also for a sysfs root given alone with no cpuinfo next to it). */
void wl_cli_host_cpu(char *buf, size_t size);

/* The CPU's model name in /proc/cpuinfo text (len bytes, any bytes): the
 * first line that starts "model name", optional blanks (spaces, tabs) and
 * ':' gives the bytes after the colon and the blanks after it, up to the
 * end of the line or a NUL byte. They are kept as they are (not UTF-8
 * checked or escaped: an output escapes them) and copied into buf (size >
 * 0 bytes, always NUL-terminated) as wl_utf8_copy copies: all of them, or
 * the longest prefix of at most size - 1 bytes that ends between two
 * characters. True when such a line exists; false leaves buf untouched. */
bool wl_cli_cpuinfo_model_name(const char *text, size_t len, char *buf, size_t size);

/* Prints a JSON value to stdout, indented, followed by a newline; takes a
 * reference (decrefs j). Returns WL_EXIT_OK or WL_EXIT_FAIL (a write error
 * is reported by main, which knows the command). */
int wl_cli_print_json(json_t *j);

/* True when stdout / stderr is a terminal (for progress displays and colour). */
bool wl_cli_stdout_is_tty(void);
bool wl_cli_stderr_is_tty(void);

/* Writing the command's output (stdout) failed: prints "wattlens CMD: writing
 * the output: <strerror(errnum)>" (no reason when errnum is 0) the first time
 * it is called in the process and nothing afterwards, so a command that
 * reports the failure itself is not reported again by main. EPIPE (the
 * reader went away: `| head`; main catches SIGPIPE) prints nothing. Returns
 * WL_EXIT_FAIL. */
int wl_cli_output_error(const char *cmd, int errnum);

/* Prints a --help text with print(stdout). A text longer than stdout's
 * buffer (4 KiB to a file) is written during that call; when the write
 * fails there, glibc drops the buffer and the flush at exit succeeds, so the
 * cause (errno) is kept here for main's "writing the output: <cause>". */
void wl_cli_print_help(void (*print)(FILE *out));

/* Flushes stdout; when the output could not be written, reports it with
 * wl_cli_output_error and returns WL_EXIT_FAIL, else WL_EXIT_OK. For a
 * command's last write (main checks again, and reports only once). */
int wl_cli_flush_stdout(const char *cmd);

/* Called by main once the command has returned: flushes and closes stdout,
 * reporting a write error with wl_cli_output_error. Returns status, or
 * WL_EXIT_FAIL when status is WL_EXIT_OK and the output could not be written
 * (a failing command keeps its own status). Nothing may write to stdout after. */
int wl_cli_close_stdout(const char *cmd, int status);

/* Called first in main: a standard descriptor (0, 1, 2) that is closed is
 * given a stand-in that fails as a closed descriptor would (stdout and
 * stderr: the read end of a pipe of their own, writes fail with EBADF;
 * stdin: a write-only /dev/null), so that no file the command opens takes
 * its number, and which ones were closed is remembered. */
void wl_cli_reserve_std_fds(void);

/* True when standard descriptor fd (0, 1 or 2) was closed when wattlens
 * started (wl_cli_reserve_std_fds put its stand-in there). */
bool wl_cli_std_fd_closed(int fd);

struct option; /* <getopt.h> */

/* getopt_long returned ':' (an option without its value) or '?' (an unknown
 * option): prints one usage error naming the option and returns
 * WL_EXIT_USAGE. opts is the option table given to getopt_long: a long
 * option abbreviated to a prefix of several options that do different
 * things (getopt_long takes a unique prefix: --lim for --limit) is
 * "ambiguous option '--s' (--since, --search, --sort)", not unknown.
 * Commands using it set opterr = 0 and start their short option string
 * with ':'. */
int wl_cli_option_error(const char *cmd, int c, char *const argv[], const struct option *opts);

/* The same, for an option the command rewrote before getopt saw it (bench
 * takes llama-bench's -ub as --ubatch-size): typed is the spelling the
 * user gave of argv[optind - 1], named in the message; NULL: as above. */
int wl_cli_option_error_typed(const char *cmd, int c, char *const argv[], const struct option *opts,
                              const char *typed);

/* wattlens's own options, taken only before the command (main.c parses
 * them; wl_cli_option_error says where they go when given after it): the
 * letter ("-v", grouped as getopt groups them: -vq) of a's long name
 * ("--verbose"), of a prefix that names only it ("--verb", as getopt_long
 * takes a command's options) or of a's one letter ("-v"); 0 when a is
 * none of them, '?' when a is a prefix of several ("--ver"). names (NULL:
 * not wanted) is set to the long names a is a prefix of, ", " between them
 * (cap bytes, truncated). */
char wl_cli_global_option_match(const char *a, char *names, size_t cap);
/* wl_cli_global_option_match without the names; 0 for an ambiguous prefix too. */
char wl_cli_global_option(const char *a);
/* When argv[i] (given before the command, where it is no global option)
 * is an option many commands take (--db, --json, -m/--model; "--db=FILE"
 * too), writes where it goes into hint (size bytes) and returns true; else
 * false. The hint names the command typed after it and the option as
 * typed, with its value: `wattlens --db x.db runs` gives "--db is an option
 * of the command: wattlens runs --db x.db"; COMMAND when no command
 * follows, FILE (MODEL) when no value does. */
bool wl_cli_command_option_hint(int argc, char *const argv[], int i, char *hint, size_t size);

/* What a command takes besides its options, for the hint on an argument
 * left over (wl_cli_stray_argument_hint). */
enum wl_cli_args {
    WL_CLI_ARGS_PROMPT,  /* run, generate: -m FILE and -p TEXT */
    WL_CLI_ARGS_TEXT,    /* tokenize: -m FILE and -p TEXT or -f FILE */
    WL_CLI_ARGS_VALUES,  /* bench: -m FILE and numbers, each after its option */
    WL_CLI_ARGS_IDS,     /* detokenize: -m FILE and token ids as arguments */
    WL_CLI_ARGS_SHAPE,   /* model synth: options only, -o OUT.gguf and shape values */
    WL_CLI_ARGS_LIMITS,  /* gc: options only, --keep N and/or --max-age DAYS */
    WL_CLI_ARGS_FILTERS, /* runs: options only, filters each with its option */
    WL_CLI_ARGS_PROBE,   /* sensors: no argument (it probes every backend; --json) */
};

/* What to say about an argument left over by a command that takes args.
 * For the commands with -m: "give the model with -m FILE" when arg ends in
 * .gguf or names an existing regular file (for WL_CLI_ARGS_TEXT, one that
 * starts with GGUF's magic: any other is a text file, "read a text file
 * with -f FILE"); else, by args: PROMPT "quote the prompt: -p \"...\"", TEXT
 * "quote the text: -p \"...\"; -f - reads it from stdin", VALUES "a value
 * goes right after its option: -p 512, -n 128", IDS NULL (the caller says
 * what a token id is).
 * For the others, by what arg looks like: SHAPE (model synth) a .gguf name
 * or a file: -o OUT.gguf or --vocab-from FILE; a number: after its option;
 * else options only. LIMITS (gc) and FILTERS (runs): a .db name or an SQLite
 * file: --db FILE; a number: --keep N / --max-age DAYS (gc), --limit N
 * (runs); runs: a .gguf name: --model M; else the options they take. PROBE
 * (sensors): it takes no argument.
 * A static string or NULL. */
const char *wl_cli_stray_argument_hint(const char *arg, enum wl_cli_args args);

#endif
