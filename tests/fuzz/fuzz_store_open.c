/* libFuzzer target for the run store's handling of a hostile database file:
 * the input is written to a temporary file, opened as a store (header,
 * application id, schema version, migration, incomplete-run marking), and
 * when that works every query, the summary and both exports run over every
 * run in it. Errors are expected; crashes and sanitizer reports are not.
 * The corpus holds small wattlens databases (512-byte pages) and non-databases.
 */
#include "analysis/summary.h"
#include "export/run_export.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void remove_db(const char *path)
{
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void walk(wl_store *s)
{
    struct wl_run_list l;
    for (int sort = WL_SORT_DATE; sort <= WL_SORT_JPT; sort++) {
        struct wl_store_filter f = {.search = "a", .tag = sort == WL_SORT_JPT ? "t" : NULL};
        if (wl_store_list_runs(s, sort == WL_SORT_DATE ? NULL : &f, (enum wl_store_sort)sort, 5,
                               0, &l) == 0)
            wl_run_list_free(&l);
    }
    if (wl_store_list_runs(s, NULL, WL_SORT_DATE, 8, 0, &l) != 0)
        return;
    FILE *null = fopen("/dev/null", "w");
    for (size_t i = 0; i < l.n; i++) {
        char id[37];
        if (wl_store_resolve_id(s, l.rows[i].id, id) != 0)
            continue;
        struct wl_store_aggregates a;
        if (wl_store_summary(s, id, &a) == 0) {
            struct wl_summary sum;
            if (wl_summary_compute(&a, &sum) == 0) {
                json_decref(wl_summary_to_json(&a, &sum));
                wl_summary_free(&sum);
            }
            wl_store_aggregates_free(&a);
        }
        if (null) {
            wl_export_run_json(s, id, 0, null, NULL);
            wl_export_run_csv(s, id, 0, null, NULL);
        }
    }
    if (null)
        fclose(null);
    if (l.n > 0)
        wl_store_delete_run(s, l.rows[0].id, true);
    wl_run_list_free(&l);
    struct wl_gc_params gp = {.keep = 1, .max_age_days = -1, .dry_run = true};
    struct wl_gc_result gr;
    wl_store_gc(s, &gp, &gr);
    wl_gc_result_free(&gr); /* in either case */
    struct wl_store_stats st;
    wl_store_stats(s, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wl-fuzz-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.busy_timeout_ms = 0;
    wl_store *s = NULL;
    struct wl_errmsg e;
    if (wl_store_open(&p, &s, &e) == 0) {
        walk(s);
        wl_store_close(s);
    }
    remove_db(path);
    return 0;
}
