/* store/: a batch of a run that SQLite rolls back by itself. On an I/O
 * error, a full disk or no memory, SQLite ends the whole transaction, and
 * a writer that went on as if its batch were open wrote every later row in
 * autocommit and finished the run `complete`, with a hole where the batch
 * was, while it said only "committing a batch: disk I/O error". Now the
 * failed call says which rows were lost, the writer starts a new batch for
 * the next row, and the run is stored `failed` with the loss in its error.
 * The failure is made by a VFS whose writes to the write-ahead log fail
 * while it is armed (a commit writes the batch there), or, at an exact row,
 * by a trigger calling a function that fails with an I/O error.
 */
#include "run_rows.h"
#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "store_hook_fixture.h"
#include "test_support.h"

#include "store/store.h"
#include "wattlens/error.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The write-ahead log's xWrite fails (disk I/O error) while fail_writes
 * > 0, counting down. */
static atomic_int fail_writes;

static int faulty_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (atomic_load(&fail_writes) > 0) {
        atomic_fetch_sub(&fail_writes, 1);
        return SQLITE_IOERR_WRITE;
    }
    return wl_test_vfs_hook_base()->xWrite(f, buf, n, off);
}

static void faulty_patch(sqlite3_io_methods *m)
{
    m->xWrite = faulty_write;
}

static int faulty_setup(void **state)
{
    atomic_store(&fail_writes, 0);
    return wl_test_store_hook_setup(state, "wl-test-faulty-wal", SQLITE_OPEN_WAL, faulty_patch);
}

/* Begins a run on f's store whose batch commits only when the test
 * flushes; its id into id (37 bytes). */
static wl_store_run *begin_run(struct wl_test_store_fixture *f, const char *prompt, char *id)
{
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .prompt = prompt};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(f->s, &info, &r, id), 0);
    wl_store_run_set_flush_interval(r, 3600 * 1000);
    return r;
}

/* Run id's row in f's file matches cond (SQL on the runs table). */
static void expect_run_row(const struct wl_test_store_fixture *f, const char *id, const char *cond)
{
    char where[1024];
    snprintf(where, sizeof where, "runs WHERE uuid = '%s' AND %s", id, cond);
    if (wl_test_store_raw_count(f->path, where) != 1)
        fail_msg("run %s does not match: %s", id, cond);
}

/* Flushes r with the log's next write failing: its commit fails, and
 * SQLite rolls the batch back. */
static int flush_failing(wl_store_run *r)
{
    atomic_store(&fail_writes, 1);
    const int rc = wl_store_flush(r);
    atomic_store(&fail_writes, 0);
    return rc;
}

static void test_a_rolled_back_batch_is_said_and_the_run_is_not_complete(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "lost", id);
    wl_test_store_add_tokens(r, 0, 4, 2, 1.0, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_flush(r), 0);

    /* tokens 4-6: their commit fails, and SQLite rolls the batch back */
    wl_test_store_add_tokens(r, 4, 3, 2, 1.0, WL_METHOD_COUNTER);
    assert_int_equal(flush_failing(r), WL_EIO);
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "disk I/O error") || !strstr(msg, "SQLite rolled back the batch") ||
        !strstr(msg, "are lost: 3 tokens (indices 4-6)"))
        fail_msg("flush: %s", msg);

    /* the next rows are a batch of their own, and stored */
    wl_test_store_add_tokens(r, 7, 3, 2, 1.0, WL_METHOD_COUNTER);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 10, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EIO);
    msg = wl_store_last_error(f->s);
    if (!strstr(msg, "was stored as failed") ||
        !strstr(msg, "rows not stored: 3 tokens (indices 4-6), which SQLite rolled back"))
        fail_msg("finish: %s", msg);

    expect_run_row(f, id, "status = 'failed'");
    expect_run_row(f, id,
                   "error LIKE 'rows not stored: 3 tokens (indices 4-6), which SQLite rolled back "
                   "after a write error (1 batch; the first error: %committing a batch: disk I/O "
                   "error)'");
    assert_int_equal(wl_test_store_raw_count(f->path, "tokens WHERE idx BETWEEN 4 AND 6"), 0);
    assert_int_equal(wl_test_store_raw_count(f->path, "tokens"), 7);
    struct wl_store_aggregates a;
    assert_int_equal(wl_store_summary(f->s, id, &a), 0);
    assert_int_equal(a.run.row.status, WL_RUN_FAILED);
    wl_store_aggregates_free(&a);
}

/* A run finished cancelled keeps its status; its error says what was lost. */
static void test_a_cancelled_run_that_lost_rows_stays_cancelled(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "cancelled", id);
    struct wl_store_sample smp = {.t_ms = 5, .phase = "decode", .method_flags = 1};
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    assert_int_equal(flush_failing(r), WL_EIO);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_CANCELLED, 10, 1, WL_METHOD_COUNTER);
    tot.error = "stopped by SIGINT";
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EIO);
    expect_run_row(f, id,
                   "status = 'cancelled' AND error LIKE 'stopped by SIGINT; rows not stored: 1 "
                   "power sample, which SQLite rolled back%'");
}

/* Rows the store refused alone (a duplicate token, layer or component, an
 * op without its component) are not in the batch, whose other rows are
 * kept while it stands: a rollback afterwards does not lose them, and the
 * loss does not name them. Old: every row was counted as given, so the
 * duplicate token 2 made the loss "4 tokens (indices 2-6)" and the
 * refused component and op rows were counted lost too. */
static void test_rows_refused_alone_are_not_counted_lost(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "refused", id);
    wl_test_store_add_tokens(r, 0, 4, 2, 1.0, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_flush(r), 0);

    wl_test_store_add_tokens(r, 4, 3, 0, 1.0, WL_METHOD_COUNTER);
    struct wl_store_token dup = {.index = 2,
                                 .start_ms = 2,
                                 .end_ms = 3,
                                 .energy_j = 1,
                                 .method = WL_METHOD_COUNTER,
                                 .power_w = WL_STORE_UNSET};
    assert_int_equal(wl_store_add_token(r, &dup), WL_EINVAL);
    struct wl_store_layer_metric lm = {.token_index = 4, .layer = 0, .dur_ms = 1, .energy_j = 0.5};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    assert_int_equal(wl_store_add_layer_metric(r, &lm), WL_EINVAL); /* a duplicate */
    struct wl_store_component_metric cm = wl_test_component_row(4, 0, 0, "attn", 0.5, 0.25);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    cm.component = 1;
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0); /* buffered: refused later */
    struct wl_store_op_metric om = wl_test_op_row(4, 0, 9, 0, "qk", 0.1, 0.01);
    assert_int_equal(wl_store_add_op_metric(r, &om), 0); /* its component 9 never comes */
    om.component = 0;
    assert_int_equal(wl_store_add_op_metric(r, &om), 0);

    assert_int_equal(flush_failing(r), WL_EIO);
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "are lost: 3 tokens (indices 4-6), 1 layer row, 2 component rows, 1 op "
                     "row"))
        fail_msg("flush: %s", msg);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 10, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EIO);
    msg = wl_store_last_error(f->s);
    if (!strstr(msg, "rows not stored: 3 tokens (indices 4-6), 1 layer row, 2 component rows, "
                     "1 op row, which SQLite rolled back"))
        fail_msg("finish: %s", msg);
}

/* A buffered component row refused for a reason other than a constraint
 * that leaves the batch open (here a trigger's "integer overflow") is no
 * part of the batch either: a rollback afterwards does not count it lost,
 * as for a token or layer row refused the same way. Old: the drain counted
 * only constraint refusals, so the loss said "8 component rows" for the 7
 * the batch held. */
static void test_a_buffered_row_refused_by_any_error_is_not_counted_lost(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "refused-other", id);
    wl_test_store_add_tokens(r, 0, 1, 0, 1.0, WL_METHOD_COUNTER);
    struct wl_store_layer_metric lm = {.token_index = 0, .layer = 0, .dur_ms = 1, .energy_j = 0.5};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    assert_int_equal(wl_store_flush(r), 0);

    wl_test_store_raw_exec(f->path, "CREATE TRIGGER overflow_component_5 BEFORE INSERT ON "
                                    "component_metrics WHEN NEW.component = 5 BEGIN "
                                    "SELECT abs(-9223372036854775807 - 1); END");
    for (int c = 2; c < 10; c++) {
        struct wl_store_component_metric cm = wl_test_component_row(0, 0, c, "c", 0.5, 0.25);
        assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
    }
    assert_int_not_equal(wl_store_flush(r), 0); /* component 5 refused; the batch stands */
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "integer overflow") || strstr(msg, "rolled back"))
        fail_msg("flush: %s", msg);

    assert_int_equal(flush_failing(r), WL_EIO);
    msg = wl_store_last_error(f->s);
    if (!strstr(msg, "are lost: 7 component rows"))
        fail_msg("failing flush: %s", msg);
    wl_store_run_abandon(r);
}

/* The same with a full buffer (64 component rows, one multi-row INSERT):
 * its failure leaves the batch open, so the rows are inserted one by one,
 * and only the bad one is refused. Old: a multi-row INSERT that failed
 * other than on a constraint refused all its 64 rows, so the batch held
 * 6 component rows, not 69. */
static void test_a_full_buffer_with_a_bad_row_keeps_the_good_ones(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "refused-full", id);
    wl_test_store_add_tokens(r, 0, 1, 0, 1.0, WL_METHOD_COUNTER);
    struct wl_store_layer_metric lm = {.token_index = 0, .layer = 0, .dur_ms = 1, .energy_j = 0.5};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    assert_int_equal(wl_store_flush(r), 0);

    wl_test_store_raw_exec(f->path, "CREATE TRIGGER overflow_component_5 BEFORE INSERT ON "
                                    "component_metrics WHEN NEW.component = 5 BEGIN "
                                    "SELECT abs(-9223372036854775807 - 1); END");
    int failed = 0;
    for (int c = 2; c < 72; c++) { /* the 64th fills the buffer, which is drained */
        struct wl_store_component_metric cm = wl_test_component_row(0, 0, c, "c", 0.5, 0.25);
        if (wl_store_add_component_metric(r, &cm) != 0) {
            failed++;
            const char *msg = wl_store_last_error(f->s);
            if (!strstr(msg, "integer overflow") || strstr(msg, "rolled back"))
                fail_msg("add: %s", msg);
        }
    }
    assert_int_equal(failed, 1);

    /* the batch (the 63 good rows of the full buffer and the 6 after it) */
    assert_int_equal(flush_failing(r), WL_EIO);
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "are lost: 69 component rows"))
        fail_msg("failing flush: %s", msg);
    wl_store_run_abandon(r);
}

/* A batch that held only the run's extra fields (wl_store_run_set_extra:
 * `run` sets its cost figures and KV cache type, then flushes) names them
 * when it is lost, each once, and so does the run's error. Old: "are lost:
 * no rows", and the run was stored failed for "rows not stored: no rows". */
static void test_a_lost_batch_of_extra_fields_names_them(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "extra", id);
    assert_int_equal(wl_store_run_set_extra(r, "currency", "\"EUR\""), 0);
    assert_int_equal(wl_store_run_set_extra(r, "kv_cache_type", "\"f16\""), 0);
    assert_int_equal(wl_store_run_set_extra(r, "currency", "\"USD\""), 0);
    assert_int_equal(wl_store_run_set_extra(r, "price_per_kwh", "not json"), WL_EINVAL);
    assert_int_equal(flush_failing(r), WL_EIO);
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "are lost: the run's extra fields currency, kv_cache_type"))
        fail_msg("flush: %s", msg);

    /* a domain's row is named too (the recorder sets them as it finishes) */
    struct wl_store_domain dom =
        wl_test_domain_row(WL_DOMAIN_PACKAGE, WL_METHOD_COUNTER, NULL, 3, WL_STORE_UNSET);
    assert_int_equal(wl_store_run_set_domain(r, &dom), 0);
    assert_int_equal(wl_store_run_set_extra(r, "kv_cache_type", "\"q8_0\""), 0);
    assert_int_equal(flush_failing(r), WL_EIO);
    msg = wl_store_last_error(f->s);
    if (!strstr(msg, "are lost: 1 domain row (package), the run's extra field kv_cache_type"))
        fail_msg("second flush: %s", msg);
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 10, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EIO);
    expect_run_row(f, id,
                   "status = 'failed' AND error LIKE 'rows not stored: 1 domain row (package), "
                   "the run''s extra fields currency, kv_cache_type, which SQLite rolled back "
                   "after a write error (2 batches;%' AND extra IS NULL");
}

/* Adds row i of kind k (0 samples, 1 sections, 2 tokens, 3 layer rows of
 * token 0): rows large enough (text, every domain) that a few hundred
 * thousand at most fill the connection's page cache, which then spills
 * the batch to the write-ahead log inside an INSERT. */
static int add_row(wl_store_run *r, int k, int i, const char *text)
{
    switch (k) {
    case 0: {
        struct wl_store_sample smp = {.t_ms = i, .phase = "decode", .method_flags = 1};
        smp.domain_mask = (1u << WL_DOMAIN_COUNT) - 1;
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            smp.power_w[d] = 10.0 + i;
            smp.energy_j[d] = 0.5 * i;
        }
        return wl_store_add_samples(r, &smp, 1);
    }
    case 1: {
        struct wl_store_section sec = {.phase = "decode",
                                       .name = text,
                                       .token_index = -1,
                                       .start_ms = i,
                                       .end_ms = i + 1,
                                       .energy_j = 1,
                                       .method = WL_METHOD_COUNTER};
        return wl_store_add_section(r, &sec);
    }
    case 2: {
        struct wl_store_token tok = {.index = i,
                                     .text = text,
                                     .start_ms = i,
                                     .end_ms = i + 1,
                                     .energy_j = 1,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        return wl_store_add_token(r, &tok);
    }
    default: {
        struct wl_store_layer_metric lm = {0, i, 1, 0.25};
        return wl_store_add_layer_metric(r, &lm);
    }
    }
}

/* The row whose own INSERT fails (a page cache spill that cannot be
 * written) is counted with the batch it was lost with. Old: samples,
 * sections, tokens and layer rows were counted only once stored, so the
 * message said one row fewer than were lost ("3 tokens" for 4). */
static void test_the_row_whose_insert_fails_is_counted_lost(void **state)
{
    struct wl_test_store_fixture *f = *state;
    static const char *const what[] = {"power samples", "sections", "tokens", "layer rows"};
    const size_t text_len = 64 * 1024;
    char *text = malloc(text_len + 1);
    assert_non_null(text);
    memset(text, 'x', text_len);
    text[text_len] = '\0';
    for (int k = 0; k < 4; k++) {
        char id[37];
        wl_store_run *r = begin_run(f, "spill", id);
        if (k == 3) { /* the layer rows' token, committed */
            wl_test_store_add_tokens(r, 0, 1, 0, 1.0, WL_METHOD_COUNTER);
            assert_int_equal(wl_store_flush(r), 0);
        }
        atomic_store(&fail_writes, 1 << 30);
        int i = 0, rc = 0;
        while (rc == 0 && i < 4000000)
            rc = add_row(r, k, i++, k == 1 || k == 2 ? text : "x");
        atomic_store(&fail_writes, 0);
        assert_int_equal(rc, WL_EIO);
        char want[128];
        if (k == 2)
            snprintf(want, sizeof want, "are lost: %d tokens (indices 0-%d)", i, i - 1);
        else
            snprintf(want, sizeof want, "are lost: %d %s", i, what[k]);
        const char *msg = wl_store_last_error(f->s);
        if (!strstr(msg, want))
            fail_msg("%s: \"%s\" not in: %s", what[k], want, msg);
        wl_store_run_abandon(r);
    }
    free(text);
}

/* wl_test_fail_io(): fails with SQLite's "disk I/O error", which ends the
 * transaction of the statement that called it (SQLite rolls it all back,
 * as for an I/O error of its own). Registered on every connection opened
 * while fail_io_setup's automatic extension is in place, so that a trigger
 * can fail an INSERT at an exact row. */
static void fail_io_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_error_code(ctx, SQLITE_IOERR);
}

static int fail_io_register(sqlite3 *db, const char **err, const struct sqlite3_api_routines *api)
{
    (void)err;
    (void)api;
    return sqlite3_create_function(db, "wl_test_fail_io", 0, SQLITE_UTF8, NULL, fail_io_fn, NULL,
                                   NULL);
}

typedef void (*auto_entry)(void); /* SQLite's type of an automatic extension */

static int fail_io_setup(void **state)
{
    int rc = wl_test_store_setup(state);
    if (rc != 0)
        return rc;
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s); /* opened again with wl_test_fail_io() */
    if (sqlite3_auto_extension((auto_entry)fail_io_register) != SQLITE_OK)
        return -1;
    f->s = wl_test_store_open(f->path);
    return 0;
}

static int fail_io_teardown(void **state)
{
    int rc = wl_test_store_teardown(state);
    sqlite3_cancel_auto_extension((auto_entry)fail_io_register);
    return rc;
}

/* Component `component` and its op `op` of token 0, layer 0. */
static void add_component(wl_store_run *r, int component)
{
    struct wl_store_component_metric cm = wl_test_component_row(0, 0, component, "c", 0.5, 0.25);
    assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
}

static void add_op(wl_store_run *r, int component, int op)
{
    struct wl_store_op_metric om = wl_test_op_row(0, 0, component, op, "qk", 0.1, 0.01);
    assert_int_equal(wl_store_add_op_metric(r, &om), 0);
}

/* Buffered component rows are inserted one by one when fewer than a full
 * buffer are flushed; the one whose INSERT fails with an I/O error ends
 * the batch, and the rows after it, and the op rows drained after the
 * components, go with the batch: none is stored. Old: they were inserted
 * after the failure outside any batch, each committed alone, while the
 * error counted them lost (the component rows 6-9 and the ops of the
 * components committed earlier were in the file). */
static void test_rows_after_a_failure_that_ends_the_batch_are_not_stored(void **state)
{
    struct wl_test_store_fixture *f = *state;
    char id[37];
    wl_store_run *r = begin_run(f, "ended", id);
    wl_test_store_add_tokens(r, 0, 1, 0, 1.0, WL_METHOD_COUNTER);
    struct wl_store_layer_metric lm = {.token_index = 0, .layer = 0, .dur_ms = 1, .energy_j = 0.5};
    assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
    add_component(r, 0);
    add_component(r, 1);
    assert_int_equal(wl_store_flush(r), 0);

    wl_test_store_raw_exec(f->path, "CREATE TRIGGER fail_component_5 BEFORE INSERT ON "
                                    "component_metrics WHEN NEW.component = 5 BEGIN "
                                    "SELECT wl_test_fail_io(); END");
    for (int c = 2; c < 10; c++)
        add_component(r, c);
    add_op(r, 0, 0);
    add_op(r, 1, 0);
    assert_int_equal(wl_store_flush(r), WL_EIO);
    const char *msg = wl_store_last_error(f->s);
    if (!strstr(msg, "storing metrics: disk I/O error") ||
        !strstr(msg, "are lost: 8 component rows, 2 op rows"))
        fail_msg("flush: %s", msg);
    assert_int_equal(wl_test_store_raw_count(f->path, "component_metrics"), 2);
    assert_int_equal(wl_test_store_raw_count(f->path, "op_metrics"), 0);

    wl_test_store_raw_exec(f->path, "DROP TRIGGER fail_component_5");
    struct wl_run_totals tot = wl_test_totals(WL_RUN_COMPLETE, 100, 10, WL_METHOD_COUNTER);
    assert_int_equal(wl_store_run_finish(r, &tot), WL_EIO);
    expect_run_row(f, id,
                   "status = 'failed' AND error LIKE 'rows not stored: 8 component rows, 2 op "
                   "rows, which SQLite rolled back after a write error%'");
    assert_int_equal(wl_test_store_raw_count(f->path, "component_metrics"), 2);
    assert_int_equal(wl_test_store_raw_count(f->path, "op_metrics"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_rolled_back_batch_is_said_and_the_run_is_not_complete, faulty_setup,
            wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_run_that_lost_rows_stays_cancelled,
                                        faulty_setup, wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(test_the_row_whose_insert_fails_is_counted_lost,
                                        faulty_setup, wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(test_rows_refused_alone_are_not_counted_lost, faulty_setup,
                                        wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_buffered_row_refused_by_any_error_is_not_counted_lost, faulty_setup,
            wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(test_a_full_buffer_with_a_bad_row_keeps_the_good_ones,
                                        faulty_setup, wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(test_a_lost_batch_of_extra_fields_names_them, faulty_setup,
                                        wl_test_store_hook_teardown),
        cmocka_unit_test_setup_teardown(
            test_rows_after_a_failure_that_ends_the_batch_are_not_stored, fail_io_setup,
            fail_io_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
