/* The fixture shared by the store commands' CLI tests (test_cli_runs.c,
 * test_cli_show*.c, test_cli_export.c, test_cli_gc_rm.c, test_cli_store.c):
 * a fresh database in a temporary directory holding three finished runs,
 * written through the store API, which the real `wattlens` binary then
 * reads; helpers to run a store command on that database and to read its
 * output. Test-only code; every helper fails the calling cmocka test on
 * error.
 */
#ifndef WL_TEST_CLI_STORE_FIXTURE_H
#define WL_TEST_CLI_STORE_FIXTURE_H

#include "store/store.h"
#include "store_fixture.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WL_TEST_DAY_MS (86400LL * 1000)

/* The state of a CLI store test: dir (heap) is a fresh temporary directory
 * and db its cli.db, which holds three runs (wl_test_cli_write_run), ids
 * in the order written:
 *   ids[0] "llama-tiny", tag "a", 10 J, created at WL_TEST_T0_MS (J/token 5)
 *   ids[1] "phi-tiny",   tag "b",  4 J, a day later                (J/token 2)
 *   ids[2] "llama-big",  tag "a", 40 J, two days later             (J/token 20)
 * A test may add runs to db or change it. */
struct wl_test_cli_fixture {
    char *dir;
    char db[4200];
    char ids[3][37];
};

/* cmocka setup and teardown of a struct wl_test_cli_fixture. Teardown
 * removes dir. */
int wl_test_cli_setup(void **state);
int wl_test_cli_teardown(void **state);

/* Writes a finished run to s: 2 input and 2 output tokens, 2 layers, 2
 * components and 2 ops each; energy_j over 1 s, model-estimated. Tagged
 * tag (NULL: none) and "cli"; its sampling, provenance, features and extra
 * are JSON. Its id into id (37 bytes). */
void wl_test_cli_write_run(wl_store *s, int64_t created_ms, const char *model, const char *tag,
                           double energy_j, char *id);

/* Runs `wattlens <cmd> --db <f->db> <args>` (args shell-quoted by the
 * caller) as wl_test_run_cli does; returns the exit status. */
int wl_test_cli_db(const struct wl_test_cli_fixture *f, const char *cmd, const char *args,
                   char **out, char **err);

/* The same, for a command that must succeed with JSON: its parsed output
 * (caller json_decref's); fails the test on a non-zero exit or bad JSON. */
json_t *wl_test_cli_db_json(const struct wl_test_cli_fixture *f, const char *cmd, const char *args);

/* `wattlens show --db <db> <id>`, which must succeed: its output (heap,
 * caller frees). db is any store's path (a fixture's f->db, a store
 * fixture's path). */
char *wl_test_show_text(const char *db, const char *id);

/* The same with --json: the parsed output (caller json_decref's); fails
 * the test on a non-zero exit or bad JSON. */
json_t *wl_test_show_json(const char *db, const char *id);

/* The value on the line of out that starts with label (spaces trimmed),
 * into buf; returns buf. Fails the test when no line has label. */
const char *wl_test_line_value(const char *out, const char *label, char *buf, size_t size);

/* The fields every JSON output gives a run (runs --json, show --json's
 * "run", the export's "run") have one shape: id, an ISO 8601 UTC
 * created_at with milliseconds and the tags as an array of strings,
 * sorted. Checks them for a fixture run tagged "a" (ids[0] or ids[2]). */
void wl_test_check_run_identity(json_t *run, const char *id, const char *created_at);

#endif
