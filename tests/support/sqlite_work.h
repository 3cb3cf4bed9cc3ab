/* A deterministic measure of the work SQLite does for the store, for tests
 * that guard against a query growing faster than the rows it reads (where a
 * time bound would fail on a busy machine): the virtual-machine steps
 * (SQLITE_STMTSTATUS_VM_STEP) of every statement run on the connections
 * opened between wl_test_sqlite_work_begin() and wl_test_sqlite_work_end(),
 * summed. Counted through an automatic extension that traces each such
 * connection (SQLITE_TRACE_PROFILE: once per statement run, when it
 * finishes or is reset); the store's own code is not changed. Process-wide
 * state: begin and end from the test's thread, one count at a time.
 * Test-only code.
 */
#ifndef WL_TEST_SQLITE_WORK_H
#define WL_TEST_SQLITE_WORK_H

#include <stdint.h>

/* Zeroes the count and traces every connection opened from now on, until
 * wl_test_sqlite_work_end(). Returns SQLite's code (SQLITE_OK). */
int wl_test_sqlite_work_begin(void);

/* The VM steps counted since wl_test_sqlite_work_begin(), by the
 * statements that have finished or been reset. */
uint64_t wl_test_sqlite_work(void);

/* Opens no more traced connections; the count is kept (and so is the trace
 * of a connection still open: close the store first). */
void wl_test_sqlite_work_end(void);

#endif
