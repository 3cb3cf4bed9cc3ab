/* The fixture and helpers shared by the store tests (test_store.c and
 * test_store_robust.c): a fresh database in a temporary directory, finished
 * runs written from a short spec, and a plain SQLite connection to count or
 * change rows behind the store's back. Test-only code; every helper fails
 * the calling cmocka test on error.
 */
#ifndef WL_TEST_STORE_FIXTURE_H
#define WL_TEST_STORE_FIXTURE_H

#include "store/store.h"

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

struct wl_test_run_spec {
    int64_t created_at_ms;
    const char *model, *experiment, *prompt, *command;
    const char *tags[3];
    double duration_ms, energy_j;
    int n_in, n_out; /* tokens written as rows; 0/0 = a measure run */
    enum wl_run_status status;
};

/* Writes a run as sp says (n_in input then n_out output tokens, 10 ms and
 * 1 J each) and finishes it with sp's totals (status 0: complete); its id
 * into id (37 bytes). */
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
