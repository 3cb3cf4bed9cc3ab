/* CLI helpers shared by the commands that use the run store: the --db
 * option (same spelling, help text and default everywhere), opening the
 * store with a clear message, resolving run ids, parsing dates, and
 * formatting figures that may be unknown (NaN -> "n/a").
 */
#ifndef WL_CLI_STORE_H
#define WL_CLI_STORE_H

#include "store/store.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* getopt_long value of --db; put WL_CLI_DB_OPTION in a command's options. */
#define WL_CLI_OPT_DB 0x1db
#define WL_CLI_DB_OPTION                                                                           \
    {                                                                                              \
        "db", required_argument, NULL, WL_CLI_OPT_DB                                               \
    }
#define WL_CLI_DB_HELP                                                                             \
    "  --db FILE            run database (default: $WATTLENS_DB, else\n"                           \
    "                       $XDG_DATA_HOME/wattlens/wattlens.db, else\n"                           \
    "                       ~/.local/share/wattlens/wattlens.db)\n"

/* Opens the store at db_path (NULL = default). On failure prints
 * "wattlens CMD: <why>" and returns WL_EXIT_FAIL; else WL_EXIT_OK. */
int wl_cli_store_open(const char *cmd, const char *db_path, wl_store **out);

/* Resolves a run id or unique prefix into id_out (37 bytes); prints the
 * error and returns false when it cannot. */
bool wl_cli_resolve_run(const char *cmd, wl_store *s, const char *arg, char *id_out);

/* Parses a time for --since/--until: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z]
 * (UTC), or a time ago such as 30m, 12h, 7d. Prints a usage error and
 * returns false when s is none of these. */
bool wl_cli_parse_time(const char *cmd, const char *opt, const char *s, int64_t *unix_ms);

/* "2026-11-21 08:12" (UTC) into buf. */
const char *wl_cli_format_date(int64_t unix_ms, char *buf, size_t size);

/* A number with unit, or "n/a" when v is NaN: "%.*f unit". */
const char *wl_cli_fmt(double v, int decimals, const char *unit, char *buf, size_t size);

/* Energy with an automatic unit (J, mJ, kJ), or "n/a". */
const char *wl_cli_fmt_energy(double j, char *buf, size_t size);

/* The CPU's model name from /proc/cpuinfo into buf ("" when unknown). */
void wl_cli_host_cpu(char *buf, size_t size);

/* Duration with an automatic unit (ms, s, min), or "n/a". */
const char *wl_cli_fmt_duration(double ms, char *buf, size_t size);

#endif
