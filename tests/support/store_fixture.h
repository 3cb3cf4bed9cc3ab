/* The fixture and helpers shared by the tests that write runs into a store
 * (test_store*.c, test_analysis.c, test_run_export.c,
 * test_cli_store_values.c, ...): a fresh database in a temporary
 * directory, finished runs written from a short spec, a run's totals with
 * the unknowns preset, token rows, the run that recorded nothing, and a
 * plain SQLite connection to count or change rows behind the store's back.
 * Test-only code; every helper fails the calling cmocka test on error.
 */
#ifndef WL_TEST_STORE_FIXTURE_H
#define WL_TEST_STORE_FIXTURE_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define WL_TEST_T0_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

/* The state of a store test: dir (heap) is a fresh temporary directory and
 * s the store opened at path, dir/sub/dir/w.db (the directories made by the
 * open). A test may close s and set it to NULL, or open it again. */
struct wl_test_store_fixture {
    char *dir;
    char path[4096];
    wl_store *s;
};

/* cmocka setup and teardown of a struct wl_test_store_fixture. Teardown
 * closes s (NULL allowed) and removes dir. */
int wl_test_store_setup(void **state);
int wl_test_store_teardown(void **state);

/* Opens (creating) the store at path with the default parameters. */
wl_store *wl_test_store_open(const char *path);

/* A run's totals with what a test rarely means preset as unknown: token
 * counts -1 (none stored), sample_count -1 (counted from the stored
 * samples), sample_rate_hz WL_STORE_UNSET, no domains. A test sets the
 * rest it means (tot.output_tokens = 2, tot.domains, ...). */
struct wl_run_totals wl_test_totals(enum wl_run_status status, double duration_ms, double energy_j,
                                    enum wl_method method);

/* Adds token rows first..first+n-1 to r, not flushed: text "t", an input
 * token when its index is below n_in, token i from 10 i to 10 i + 10 ms,
 * energy_j each with method, no power sample. */
void wl_test_store_add_tokens(wl_store_run *r, int first, int n, int n_in, double energy_j,
                              enum wl_method method);

/* Adds n baseline samples to r: at 0, 100, 200 ... ms, the package counter
 * climbing 1 J each (10 W, method counter). */
void wl_test_store_add_baseline_samples(wl_store_run *r, int n);

/* Writes a run cancelled during its idle baseline, which recorded nothing
 * (the summary's nothing_recorded): n_samples baseline samples
 * (wl_test_store_add_baseline_samples), with_section: a baseline section
 * (0..300 ms, 3 J, model estimate), a package domain of 0 J (model
 * estimate, source "cpu-model") and the totals its writer stores: 0 ms,
 * 0 J (model estimate), 0 input and 0 output tokens. Model "cancelled";
 * its id into id (37 bytes). */
void wl_test_store_make_unrecorded_run(wl_store *s, int n_samples, bool with_section, char *id);

struct wl_test_run_spec {
    int64_t created_at_ms;
    const char *model, *experiment, *prompt, *command;
    const char *tags[3];
    double duration_ms, energy_j;
    int n_in, n_out; /* tokens written as rows; 0/0 = a measure run */
    enum wl_run_status status;
};

/* Writes a run as sp says (n_in input then n_out output tokens,
 * wl_test_store_add_tokens with 1 J each, counter) and finishes it with sp's totals (status 0:
 * complete); its id into id (37 bytes). */
void wl_test_store_make_run(wl_store *s, const struct wl_test_run_spec *sp, char *id);

/* SELECT count(*) FROM <table> on path with a plain SQLite connection;
 * table may carry a WHERE clause ("runs WHERE status = 'running'"). */
int64_t wl_test_store_raw_count(const char *path, const char *table);

/* The first column of sql's first row as a double, on path with a plain
 * SQLite connection (what SQLite itself computes: "SELECT sum(...)"). */
double wl_test_store_raw_double(const char *path, const char *sql);

/* Runs sql on path with a plain SQLite connection (to move a run's
 * heartbeat back, make it another host's, or add a trigger or filler). */
void wl_test_store_raw_exec(const char *path, const char *sql);

#endif
