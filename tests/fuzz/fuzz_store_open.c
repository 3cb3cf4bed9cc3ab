/* libFuzzer target for the run store's handling of a hostile database file.
 * The input is the file. It is written to a temporary path and opened three
 * times, each time from the input's bytes: read-only, then no_migrate and
 * no_create (an older schema read through the TEMP bridge views,
 * query_only, as `runs`, `show` and `export` read it), then as a writer
 * (migrated). When an open
 * works, the queries, the summary and both exports run over its runs, a run
 * is deleted and a dry-run gc made. Checks, trapping on failure:
 * - a refused open gives a negative code, a message and no store;
 * - a listing gives at most its limit of rows and no more than its total,
 *   and every listed id resolves to itself, or is refused as no run id
 *   (wl_store_check_id) or as ambiguous (a hostile file's id that prefixes
 *   another), never as no such run;
 * - a JSON export that succeeds is one JSON object;
 * - a dry-run gc changes no count (wl_store_stats before and after);
 * - a delete that succeeds leaves the run unresolvable and one run fewer;
 *   these two and the lookups of listed ids hold for a sound file: one that
 *   SQLite's integrity_check passes (checked with SQLite itself, apart from
 *   the store). In a file whose index lost a row, a lookup by that index
 *   misses a run the table has, and SQLite does not say so; a damaged page
 *   may fail it as malformed (WL_EFORMAT);
 * - the read-only open, and a no_migrate open of an older schema, write
 *   nothing: a delete fails and leaves the run, the file keeps its bytes
 *   and no -wal or -shm is left next to it; their schema version is the
 *   file header's user_version; a writer's is the current schema's.
 * The corpus holds small wattlens databases (512-byte pages) of schema 1,
 * 2 and 3 (with inference and measure runs, sections, tokens, a failed run
 * and a run whose writer died on another host) and non-databases.
 */
#include "analysis/summary.h"
#include "export/run_export.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

enum pass { PASS_READ_ONLY, PASS_NO_MIGRATE, PASS_WRITER };

static void remove_db(const char *path)
{
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", path);
    unlink(p);
}

static bool exists(const char *path, const char *suffix)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &st) == 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    remove_db(path);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size || size == 0);
    CHECK(fclose(f) == 0);
}

/* The file at path is exactly data[0..size). */
static bool same_bytes(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t *buf = malloc(size + 1);
    CHECK(buf != NULL);
    const size_t n = fread(buf, 1, size + 1, f);
    fclose(f);
    const bool same = n == size && memcmp(buf, data, size) == 0;
    free(buf);
    return same;
}

/* The user_version of the SQLite header (big-endian at offset 60); 0 for
 * an empty file (SQLite's new database), -1 for one too short for a header
 * (no database). */
static int64_t header_version(const uint8_t *data, size_t size)
{
    if (size < 64)
        return size == 0 ? 0 : -1;
    return (int64_t)((uint32_t)data[60] << 24 | (uint32_t)data[61] << 16 | (uint32_t)data[62] << 8 |
                     (uint32_t)data[63]);
}

/* SQLite's integrity_check passes on the file at path (opened immutable:
 * read as it is, nothing written next to it). */
static bool file_is_sound(const char *path)
{
    char uri[4200];
    snprintf(uri, sizeof uri, "file:%s?immutable=1", path);
    sqlite3 *db = NULL;
    bool sound = false;
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *r = sqlite3_column_text(st, 0);
            sound = r && strcmp((const char *)r, "ok") == 0;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return sound;
}

static bool same_stats(const struct wl_store_stats *a, const struct wl_store_stats *b)
{
    if (a->runs != b->runs || a->schema_version != b->schema_version)
        return false;
    for (int t = 0; t < WL_TABLE_COUNT; t++)
        if (a->rows[t] != b->rows[t])
            return false;
    return true;
}

/* A listing as the contract says; a listed id resolves to itself, or is
 * refused without being called absent. */
static void check_list(wl_store *s, const struct wl_run_list *l, int64_t limit, bool sound)
{
    CHECK(limit == 0 || (int64_t)l->n <= limit);
    CHECK((int64_t)l->n <= l->total);
    for (size_t i = 0; i < l->n; i++) {
        char id[37];
        const int rc = wl_store_resolve_id(s, l->rows[i].id, id);
        if (!sound) /* any answer: a lost index row, or SQLite's "malformed" (WL_EFORMAT) */
            continue;
        if (rc == 0)
            CHECK(strcmp(id, l->rows[i].id) == 0);
        else
            CHECK(rc == WL_EINVAL);
    }
}

/* The JSON export of run id, into memory: when it succeeds, one object. */
static void check_json_export(wl_store *s, const char *id)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    CHECK(mem != NULL);
    const int rc = wl_export_run_json(s, id, 0, mem, NULL);
    CHECK(fclose(mem) == 0);
    if (rc == 0) {
        json_error_t je;
        json_t *doc = json_loadb(text, len, JSON_ALLOW_NUL, &je);
        CHECK(doc != NULL && json_is_object(doc));
        json_decref(doc);
    }
    free(text);
}

static void walk(wl_store *s, bool writes, bool sound)
{
    struct wl_run_list l;
    for (int sort = WL_SORT_DATE; sort <= WL_SORT_JPT; sort++) {
        struct wl_store_filter f = {.search = "a", .tag = sort == WL_SORT_JPT ? "t" : NULL};
        if (wl_store_list_runs(s, sort == WL_SORT_DATE ? NULL : &f, (enum wl_store_sort)sort, 5, 0,
                               &l) == 0) {
            check_list(s, &l, 5, sound);
            wl_run_list_free(&l);
        }
    }
    if (wl_store_list_runs(s, NULL, WL_SORT_DATE, 8, 0, &l) != 0)
        return;
    check_list(s, &l, 8, sound);
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
        check_json_export(s, id);
        if (null)
            wl_export_run_csv(s, id, 0, null, NULL);
    }
    if (null)
        fclose(null);

    struct wl_store_stats before, after;
    const bool counted = wl_store_stats(s, &before) == 0;
    struct wl_gc_params gp = {.keep = 1, .max_age_days = -1, .dry_run = true};
    struct wl_gc_result gr;
    if (wl_store_gc(s, &gp, &gr) == 0 && counted) {
        CHECK(gr.compaction == WL_GC_NOT_COMPACTED);
        CHECK((int64_t)gr.removed.n <= before.runs);
        CHECK(wl_store_stats(s, &after) == 0 && same_stats(&before, &after));
    }
    wl_gc_result_free(&gr); /* in either case */

    char id[37];
    if (l.n > 0 && counted && wl_store_resolve_id(s, l.rows[0].id, id) == 0) {
        const int rc = wl_store_delete_run(s, id, true);
        const bool gone = wl_store_stats(s, &after) == 0 && after.runs == before.runs - 1;
        if (!writes) {
            CHECK(rc != 0);
            CHECK(wl_store_resolve_id(s, id, id) == 0);
        } else if (rc == 0 && sound) {
            CHECK(gone);
            char again[37];
            CHECK(wl_store_resolve_id(s, id, again) == WL_ENOENT);
        }
    }
    wl_run_list_free(&l);
}

static void open_pass(const char *path, const uint8_t *data, size_t size, enum pass pass,
                      bool sound)
{
    write_file(path, data, size);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    p.busy_timeout_ms = 0;
    p.read_only = pass == PASS_READ_ONLY;
    p.no_migrate = p.no_create = pass == PASS_NO_MIGRATE; /* as the CLI's readers */
    wl_store *s = (wl_store *)&p;                         /* must be reset */
    struct wl_errmsg e = {{0}};
    const int rc = wl_store_open(&p, &s, &e);
    if (rc != 0) {
        CHECK(rc < 0 && s == NULL && e.text[0] != '\0');
        remove_db(path);
        return;
    }
    const int64_t version = header_version(data, size);
    struct wl_store_stats st;
    const bool counted = wl_store_stats(s, &st) == 0;
    /* read-only, or an older schema left as it is: nothing is written */
    const bool reader = pass == PASS_READ_ONLY || (pass == PASS_NO_MIGRATE && version >= 0 &&
                                                   version < WL_STORE_SCHEMA_VERSION);
    /* a writer migrates; a reader, and no_migrate, keep the file's version
     * (no_migrate of a current file is a writer's open) */
    if (counted)
        CHECK(st.schema_version == (pass == PASS_WRITER ? WL_STORE_SCHEMA_VERSION : version));
    walk(s, !reader, sound);
    wl_store_close(s);
    if (reader) {
        CHECK(same_bytes(path, data, size));
        CHECK(!exists(path, "-wal") && !exists(path, "-shm") && !exists(path, "-journal"));
    }
    remove_db(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wl-fuzz-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    close(fd);
    write_file(path, data, size);
    const bool sound = file_is_sound(path);
    open_pass(path, data, size, PASS_READ_ONLY, sound);
    open_pass(path, data, size, PASS_NO_MIGRATE, sound);
    open_pass(path, data, size, PASS_WRITER, sound);
    remove_db(path);
    return 0;
}
