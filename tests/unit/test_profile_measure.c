/* profile/measure_store: the heartbeat that keeps a measure run's row alive
 * while its command runs (every interval, a short wait for the lock, a
 * retry sooner after a failure) and what the save writes for a command of
 * unknown status or with thinned samples, its provenance's digits, and the
 * command line as stored (quotes, empty arguments). The rest of the save is
 * exercised through the CLI (tests/integration/test_measure*.sh).
 */
#include "test_support.h"

#include "profile/measure_store.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_NS 1000000000ull

struct fixture {
    char *dir;
    char path[4096];
    wl_store *s;
    wl_store_run *run;
    char id[37];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/m.db", f->dir);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    char *argv[] = {"sleep", "100000", NULL};
    struct wl_measure_save save = {.argv = argv};
    assert_int_equal(wl_measure_begin_run(f->s, &save, &f->run, f->id, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wl_store_run_abandon(f->run);
    wl_store_close(f->s);
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The run's heartbeat, moved back an hour (or read) with a plain connection. */
static int64_t heartbeat_ms(const char *path, bool move_back)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (move_back)
        assert_int_equal(sqlite3_exec(db, "UPDATE runs SET updated_at_ms = updated_at_ms - 3600000",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT updated_at_ms FROM runs", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_heartbeat_stamps_the_run_every_interval(void **state)
{
    struct fixture *f = *state;
    struct wl_measure_heartbeat hb = {.run = f->run, .interval_ns = 600 * S_NS};
    const uint64_t t0 = 1000 * S_NS;
    const int64_t old = heartbeat_ms(f->path, true);
    wl_measure_heartbeat_tick(&hb, t0); /* the first tick only starts the clock */
    wl_measure_heartbeat_tick(&hb, t0 + 599 * S_NS);
    assert_int_equal(hb.n_ok, 0);
    assert_int_equal(heartbeat_ms(f->path, false), old);
    wl_measure_heartbeat_tick(&hb, t0 + 600 * S_NS);
    assert_int_equal(hb.n_ok, 1);
    assert_true(heartbeat_ms(f->path, false) >= old + 3600000);
    wl_measure_heartbeat_tick(&hb, t0 + 1199 * S_NS); /* next one an interval later */
    assert_int_equal(hb.n_ok, 1);
    wl_measure_heartbeat_tick(&hb, t0 + 1200 * S_NS);
    assert_int_equal(hb.n_ok, 2);
    assert_int_equal(hb.n_failed, 0);
    struct wl_measure_heartbeat none = {0}; /* --no-store: nothing */
    wl_measure_heartbeat_tick(&none, t0);
    wl_measure_heartbeat_tick(&none, t0 + 3600 * S_NS);
    assert_int_equal(none.n_ok + none.n_failed, 0);
}

/* Another writer holds the lock: the heartbeat gives up after its short
 * wait (the thread also waits for the command) and tries again a retry
 * later, not an interval later. */
static void test_heartbeat_retries_sooner_when_the_database_is_locked(void **state)
{
    struct fixture *f = *state;
    struct wl_measure_heartbeat hb = {
        .run = f->run, .interval_ns = 600 * S_NS, .retry_ns = 60 * S_NS, .wait_ms = 20};
    const uint64_t t0 = 1000 * S_NS;
    wl_measure_heartbeat_tick(&hb, t0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    wl_measure_heartbeat_tick(&hb, t0 + 600 * S_NS);
    assert_int_equal(hb.n_failed, 1);
    assert_int_equal(hb.n_ok, 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    wl_measure_heartbeat_tick(&hb, t0 + 659 * S_NS);
    assert_int_equal(hb.n_ok, 0);
    wl_measure_heartbeat_tick(&hb, t0 + 660 * S_NS);
    assert_int_equal(hb.n_ok, 1);
}

/* Column col (extra, sensor_provenance) of the saved run, with a plain
 * connection. */
static char *stored_text(const char *path, const char *col)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT %s FROM runs", col);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A command whose status could not be read is saved with exit_status and
 * cpu_time_s null (not a made-up 0) and status_unknown; thinned samples
 * are saved with how many were not kept. */
static void test_unknown_status_and_thinned_samples_are_saved_as_such(void **state)
{
    struct fixture *f = *state;
    struct wl_measure_result r;
    memset(&r, 0, sizeof r);
    r.started = true;
    r.status_unknown = true;
    r.exit_code = -1;
    r.cpu_ns = 5 * S_NS;
    r.n_samples_dropped = 1234;
    r.sample_stride = 4;
    char *argv[] = {"sleep", "100000", NULL};
    struct wl_measure_save save = {.argv = argv, .result = &r};
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_measure_finish_run(f->s, f->run, &save, &e), 0);
    f->run = NULL; /* finish took it */
    char *x = stored_text(f->path, "extra");
    assert_non_null(strstr(x, "\"exit_status\":null"));
    assert_non_null(strstr(x, "\"status_unknown\":true"));
    assert_non_null(strstr(x, "\"cpu_time_s\":null"));
    assert_non_null(strstr(x, "\"samples_not_kept\":1234"));
    assert_non_null(strstr(x, "\"sample_stride\":4"));
    free(x);
}

/* The provenance is stored JSON text (which the CSV export keeps as it
 * is): its numbers have 15 significant digits, as every JSON output writes
 * them (WL_JSON_REAL_FLAGS; old: 17 digits, 126.59789000000001). */
static void test_provenance_numbers_have_15_digits(void **state)
{
    struct fixture *f = *state;
    struct wl_measure_result r;
    memset(&r, 0, sizeof r);
    r.started = true;
    r.stats.interval_ns = 126597890;
    char *argv[] = {"sleep", "100000", NULL};
    struct wl_measure_save save = {.argv = argv, .result = &r};
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_measure_finish_run(f->s, f->run, &save, &e), 0);
    f->run = NULL; /* finish took it */
    char *prov = stored_text(f->path, "sensor_provenance");
    if (!strstr(prov, "\"sample_interval_ms\":126.59789,"))
        fail_msg("provenance: %s", prov);
    free(prov);
}

/* The command line is quoted as a shell reads it back: an argument of
 * quotes only, an empty one and a mix. Each ' takes 4 bytes ('\''); the
 * buffer once counted 2 per byte and overflowed the heap (ASan:
 * heap-buffer-overflow; glibc: "free(): invalid next size"). */
static void test_command_line_quotes_every_quote_and_empty_argument(void **state)
{
    (void)state;
    char quotes[2001];
    memset(quotes, '\'', sizeof quotes - 1);
    quotes[sizeof quotes - 1] = '\0';
    char *argv[] = {"echo", quotes, "", "it's", "a\nb", "plain", NULL};
    char *s = wl_measure_command_line(argv);
    assert_non_null(s);
    /* echo '<'\'' 2000 times>' '' 'it'\''s' 'a\nb' plain */
    const char *tail = " '' 'it'\\''s' 'a\nb' plain";
    const size_t want = strlen("echo ''") + 4 * 2000 + strlen(tail);
    assert_int_equal(strlen(s), want);
#ifdef __GLIBC__
    assert_true(malloc_usable_size(s) >= want + 1); /* the buffer holds what was written */
#endif
    assert_memory_equal(s, "echo '", 6);
    for (size_t i = 0; i < 2000; i++)
        assert_memory_equal(s + 6 + 4 * i, "'\\''", 4);
    assert_string_equal(s + 6 + 4 * 2000, "' '' 'it'\\''s' 'a\nb' plain"); /* ' then tail */
    free(s);

    char *one[] = {"''''''''''''''''''''", NULL}; /* the review's 20 quotes */
    s = wl_measure_command_line(one);
    assert_int_equal(strlen(s), 2 + 4 * 20);
#ifdef __GLIBC__
    assert_true(malloc_usable_size(s) >= 2 + 4 * 20 + 1);
#endif
    free(s);
    char *mix[] = {"", "a b", "'", NULL};
    s = wl_measure_command_line(mix);
    assert_string_equal(s, "'' 'a b' ''\\'''");
    free(s);
    s = wl_measure_command_line(NULL);
    assert_string_equal(s, "");
    free(s);
}

/* Every byte a shell acts on is quoted, not only blanks, quotes and the
 * operators: `echo '#x'` was stored as `echo #x`, which a shell reads as
 * echo and a comment; ~ expanded to a home, [ab] and {a,b} to names, ! to
 * history. Bytes of the safe set stay bare, and so does '=' after the
 * command's name (--opt=v); in the name it would be an assignment. */
static void test_command_line_quotes_every_shell_special_byte(void **state)
{
    (void)state;
    static const char special[] = "#~[]{}!^ \t\n'\"\\$`;&|<>()*?\x1b\xc3";
    for (const char *c = special; *c; c++) {
        char arg[4] = {'a', *c, 'b', '\0'};
        char *argv[] = {"echo", arg, NULL};
        char *s = wl_measure_command_line(argv);
        assert_non_null(s);
        char want[32];
        if (*c == '\'')
            snprintf(want, sizeof want, "echo 'a'\\''b'");
        else
            snprintf(want, sizeof want, "echo '%s'", arg);
        if (strcmp(s, want) != 0)
            fail_msg("byte 0x%02x: got [%s], want [%s]", (unsigned char)*c, s, want);
        free(s);
    }
    char *safe[] = {"ls", "Az09_@%+=:,./-", "--opt=v", NULL};
    char *s = wl_measure_command_line(safe);
    assert_string_equal(s, "ls Az09_@%+=:,./- --opt=v");
    free(s);
    char *assign[] = {"FOO=1", "%1", NULL};
    s = wl_measure_command_line(assign);
    assert_string_equal(s, "'FOO=1' %1");
    free(s);
    char *review[] = {"echo", "#x", "~root", "{a,b}", "[ab]", "!!", NULL};
    s = wl_measure_command_line(review);
    assert_string_equal(s, "echo '#x' '~root' '{a,b}' '[ab]' '!!'");
    free(s);
}

/* The same through the save: the run's row holds the command as quoted
 * (the overflow happened here, before the command ran). */
static void test_begin_run_stores_a_command_of_quotes(void **state)
{
    struct fixture *f = *state;
    wl_store_run_abandon(f->run);
    f->run = NULL;
    wl_store_close(f->s);
    f->s = NULL;
    assert_int_equal(unlink(f->path), 0);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = f->path;
    struct wl_errmsg e = {{0}};
    assert_int_equal(wl_store_open(&p, &f->s, &e), 0);
    char quotes[1001];
    memset(quotes, '\'', sizeof quotes - 1);
    quotes[sizeof quotes - 1] = '\0';
    char *argv[] = {"sh", "-c", quotes, "", "x'y", NULL};
    struct wl_measure_save save = {.argv = argv};
    assert_int_equal(wl_measure_begin_run(f->s, &save, &f->run, f->id, &e), 0);
    char *cmd = stored_text(f->path, "command");
    assert_int_equal(strlen(cmd), strlen("sh -c ''") + 4 * 1000 + strlen(" '' 'x'\\''y'"));
    assert_string_equal(cmd + strlen("sh -c ''") + 4 * 1000, " '' 'x'\\''y'");
    free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heartbeat_stamps_the_run_every_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_retries_sooner_when_the_database_is_locked,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_status_and_thinned_samples_are_saved_as_such,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_provenance_numbers_have_15_digits, setup, teardown),
        cmocka_unit_test(test_command_line_quotes_every_quote_and_empty_argument),
        cmocka_unit_test(test_command_line_quotes_every_shell_special_byte),
        cmocka_unit_test_setup_teardown(test_begin_run_stores_a_command_of_quotes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
