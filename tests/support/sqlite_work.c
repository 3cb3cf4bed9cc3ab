/* The SQLite work counter; see sqlite_work.h. Its state is static: one
 * count at a time. */
#include "sqlite_work.h"

#include <sqlite3.h>
#include <stddef.h>

static uint64_t work_steps;

/* SQLITE_TRACE_PROFILE: p is a statement that has just finished or been
 * reset; its VM steps since the last read are added (and its counter
 * reset, so that a statement run again is not counted twice). */
static int work_trace(unsigned kind, void *ctx, void *p, void *x)
{
    (void)ctx;
    (void)x;
    if (kind == SQLITE_TRACE_PROFILE)
        work_steps +=
            (uint64_t)sqlite3_stmt_status((sqlite3_stmt *)p, SQLITE_STMTSTATUS_VM_STEP, 1);
    return 0;
}

static int work_on_open(sqlite3 *db, const char **err, const struct sqlite3_api_routines *api)
{
    (void)err;
    (void)api;
    return sqlite3_trace_v2(db, SQLITE_TRACE_PROFILE, work_trace, NULL);
}

/* SQLite's type of an automatic extension's entry point */
typedef void (*work_entry)(void);

int wl_test_sqlite_work_begin(void)
{
    work_steps = 0;
    return sqlite3_auto_extension((work_entry)work_on_open);
}

uint64_t wl_test_sqlite_work(void)
{
    return work_steps;
}

void wl_test_sqlite_work_end(void)
{
    sqlite3_cancel_auto_extension((work_entry)work_on_open);
}
