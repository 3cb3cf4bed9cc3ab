/* CLI helpers shared by the commands that use the run store: the --db
 * option (same spelling, help text and default everywhere), the options the
 * store commands share (--db, --json, -h/--help: one table, one parser, one
 * message for a bad option), opening the store with a clear message,
 * resolving run ids, parsing dates, and formatting figures that may be
 * unknown (NaN -> "n/a"). Single-threaded, like the rest of cli/ (getopt).
 */
#ifndef WL_CLI_STORE_H
#define WL_CLI_STORE_H

#include "store/store.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* getopt_long value of --db; put WL_CLI_DB_OPTION in a command's options. */
#define WL_CLI_OPT_DB 0x1db
#define WL_CLI_DB_OPTION                                                                           \
    {                                                                                              \
        "db", required_argument, NULL, WL_CLI_OPT_DB                                               \
    }
/* --db's help with its text starting after the string lead (the option's
 * indent, "--db FILE" and spaces up to the command's description column)
 * and its continuation lines indented by indent (spaces to that column) */
#define WL_CLI_DB_HELP_AT(lead, indent)                                                            \
    lead "run database (default: $WATTLENS_DB, else\n" indent                                      \
         "$XDG_DATA_HOME/wattlens/wattlens.db, else\n" indent                                      \
         "~/.local/share/wattlens/wattlens.db)\n"
#define WL_CLI_DB_HELP WL_CLI_DB_HELP_AT("  --db FILE            ", "                       ")

/* getopt_long value of --json in the store commands. */
#define WL_CLI_OPT_JSON 0x15d

/* The options shared by runs, show, export, rm and gc. Their option tables
 * end with WL_CLI_STORE_OPTIONS (plus WL_CLI_JSON_OPTION where the output is
 * data), their --help ends its option list with WL_CLI_STORE_HELP, and the
 * getopt loop hands every code it does not handle itself to
 * wl_cli_store_option:
 *
 *     struct wl_cli_store_opts so;
 *     wl_cli_store_opts_init(&so, cmd, usage, opts);
 *     while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
 *         switch (c) {
 *         case 'L': ... (the command's own options)
 *         default:
 *             if (!wl_cli_store_option(&so, c, argv))
 *                 return so.exit_status;
 *         }
 *     }
 */
struct wl_cli_store_opts {
    const char *cmd;          /* command name, for messages */
    const struct option *opts; /* the command's option table, for messages */
    void (*usage)(FILE *out); /* prints the command's --help */
    const char *db;           /* --db FILE; NULL = the default database */
    bool json;                /* --json */
    int exit_status;          /* valid after wl_cli_store_option returned false */
};

#define WL_CLI_STORE_OPTIONS {"help", no_argument, NULL, 'h'}, WL_CLI_DB_OPTION
#define WL_CLI_JSON_OPTION                                                                         \
    {                                                                                              \
        "json", no_argument, NULL, WL_CLI_OPT_JSON                                                 \
    }
#define WL_CLI_STORE_HELP WL_CLI_DB_HELP "  -h, --help           show this help\n"

/* Sets o for a new command line (db NULL, json false) of cmd, whose option
 * table is opts (for wl_cli_option_error), and resets getopt: optind =
 * 1, and opterr = 0 because the messages are ours. */
void wl_cli_store_opts_init(struct wl_cli_store_opts *o, const char *cmd, void (*usage)(FILE *out),
                            const struct option *opts);

/* Handles getopt_long code c, one the command does not handle itself:
 * --db and --json are stored in o; -h/--help prints the usage to stdout;
 * any other code (an unknown or ambiguous option, a missing value) is
 * reported by wl_cli_option_error with o->opts. Returns true to go on
 * parsing, false when the command must return o->exit_status now
 * (WL_EXIT_OK after --help, WL_EXIT_USAGE after a bad option). */
bool wl_cli_store_option(struct wl_cli_store_opts *o, int c, char *const argv[]);

/* How a command uses the run database. */
enum wl_cli_store_mode {
    /* runs, show, export: the file must exist (a mistyped --db is an error,
     * not a new empty database); opened read-only when it cannot be written
     * (a read-only file or directory), else writable with no_migrate: an
     * older schema is read through the store's bridges, not migrated, and
     * its dead runs are not marked (readers never write it) */
    WL_CLI_STORE_READ,
    /* gc --dry-run: the file must exist; always opened read-only, so that
     * nothing is written (no migration, no dead run marked incomplete) */
    WL_CLI_STORE_READ_ONLY,
    /* rm, gc: the file must exist */
    WL_CLI_STORE_MODIFY,
    /* run, measure: created (with its directory) when missing */
    WL_CLI_STORE_CREATE,
};

/* Opens the store at db_path (NULL = default) for mode. On failure prints
 * "wattlens CMD: <why>" and returns WL_EXIT_FAIL (WL_EXIT_USAGE for an
 * empty path); else WL_EXIT_OK. */
int wl_cli_store_open(const char *cmd, const char *db_path, enum wl_cli_store_mode mode,
                      wl_store **out);

/* WL_EXIT_OK when arg can name a run (wl_store_check_id); else prints why
 * as a usage error and returns WL_EXIT_USAGE. Called on every ID argument
 * before the database is opened: a malformed ID is a command-line mistake,
 * whatever the database holds. */
int wl_cli_check_run_id(const char *cmd, const char *arg);

/* Resolves a run id or unique prefix into id_out (37 bytes); prints the
 * error and returns false when it cannot. */
bool wl_cli_resolve_run(const char *cmd, wl_store *s, const char *arg, char *id_out);

/* Parses a time for --since/--until: a date YYYY-MM-DD or
 * YYYY-MM-DDTHH:MM[:SS][Z] (UTC; each field its exact digits, a real day of
 * its month), or an age before now: decimal digits with an optional
 * fraction and a unit m, h, d or w (30m, 1.5h, 7d; no exponent or sign).
 * Any time from 0000-01-01 on is a time, before 1970 too (*unix_ms < 0).
 * Prints a usage error and returns false when s is none of these, or an
 * age reaches before the year 0000. */
bool wl_cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *unix_ms);

/* The parsing of wl_cli_parse_time without its messages, an age counted
 * back from now_ms (unix ms) so that the result does not depend on the
 * clock: 0 with *unix_ms set; WL_EFORMAT when s is no time; WL_ERANGE when
 * an age reaches before the year 0000 (*unix_ms untouched on error). */
int wl_cli_time_parse(const char *s, int64_t now_ms, int64_t *unix_ms);

/* "2026-11-21 08:12" (UTC, wl_run_json_format_time cut to the minute) into
 * buf; "?" for a time outside the years 0000-9999, where the JSON has null. */
const char *wl_cli_format_date(int64_t unix_ms, char *buf, size_t size);

/* A number with unit, or "n/a" when v is NaN: "%.*f unit". A value that
 * is not zero never reads as zero: when it would, "%.2g unit". */
const char *wl_cli_fmt(double v, int decimals, const char *unit, char *buf, size_t size);

/* A number to `digits` significant digits with unit ("%.*g unit"), or
 * "n/a": for figures that span orders of magnitude (EDP). */
const char *wl_cli_fmt_sig(double v, int digits, const char *unit, char *buf, size_t size);

/* Energy with an automatic unit (kJ, J, mJ, uJ, nJ), or "n/a". */
const char *wl_cli_fmt_energy(double j, char *buf, size_t size);

/* Duration with an automatic unit (min, s, ms, us, ns), or "n/a". */
const char *wl_cli_fmt_duration(double ms, char *buf, size_t size);

/* A size with a binary unit: "%.2f GiB", "MiB" or "KiB" (the largest that
 * keeps the number at least 1), "N B" below 1 KiB; "n/a" when negative. */
const char *wl_cli_fmt_bytes(int64_t bytes, char *buf, size_t size);

#endif
