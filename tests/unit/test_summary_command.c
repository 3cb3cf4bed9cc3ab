/* analysis/summary: how a measured command ended (runs.extra, written by
 * `measure`: exit status, signal, stop signal, or a status that could not
 * be read) in the summary and its JSON run object. The rest of the summary
 * is in test_analysis.c.
 */
#include "test_support.h"

#include "analysis/summary.h"
#include "store/store.h"
#include "wattlens/error.h"

#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* How a measured command ended (runs.extra, written by `measure`) reaches
 * the summary and its JSON run object; a run without it (inference, older
 * measure runs) has null there. The old summary dropped it. */
static void test_summary_says_how_a_measured_command_ended(void **state)
{
    (void)state;
    static const struct {
        const char *extra;
        bool known, started;
        int exit_status, signal, stop_signal;
        const char *signal_name, *stop_name;
    } cases[] = {
        {"{\"exit_status\":5,\"signal\":null,\"cpu_time_s\":0.1}", true, true, 5, 0, 0, NULL, NULL},
        {"{\"exit_status\":137,\"signal\":9}", true, true, 137, SIGKILL, 0, "SIGKILL", NULL},
        {"{\"exit_status\":3,\"signal\":null,\"stop_signal\":15}", true, true, 3, 0, SIGTERM, NULL,
         "SIGTERM"},
        {"{\"exit_status\":null,\"signal\":null,\"stop_signal\":1}", true, false, -1, 0, SIGHUP,
         NULL, "SIGHUP"},
        {"{\"exit_status\":200,\"signal\":72}", true, true, 200, 72, 0, NULL, NULL},
        /* it ran, but its status could not be read: started, no status */
        {"{\"exit_status\":null,\"status_unknown\":true,\"signal\":null}", true, true, -1, 0, 0,
         NULL, NULL},
        {"{\"price_per_kwh\":0.3}", false, false, -1, 0, 0, NULL, NULL},
        {NULL, false, false, -1, 0, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wl_store_aggregates a;
        memset(&a, 0, sizeof a);
        a.run.row.kind = WL_RUN_KIND_MEASURE;
        a.run.row.energy_j = a.run.row.duration_ms = WL_STORE_UNSET;
        a.run.row.input_tokens = a.run.row.output_tokens = -1;
        a.run.extra_json = (char *)cases[i].extra;
        struct wl_summary s;
        assert_int_equal(wl_summary_compute(&a, &s), 0);
        assert_int_equal(s.command.known, cases[i].known);
        assert_int_equal(s.command.started, cases[i].started);
        assert_int_equal(s.command.exit_status, cases[i].exit_status);
        assert_int_equal(s.command.signal, cases[i].signal);
        assert_int_equal(s.command.stop_signal, cases[i].stop_signal);
        json_t *j = wl_summary_to_json(&a, &s);
        json_t *run = json_object_get(j, "run");
        json_t *v = json_object_get(run, "exit_status");
        if (cases[i].started && cases[i].exit_status >= 0)
            assert_int_equal(json_integer_value(v), cases[i].exit_status);
        else
            assert_true(json_is_null(v));
        assert_int_equal(json_is_true(json_object_get(run, "exit_status_unknown")),
                         cases[i].started && cases[i].exit_status < 0);
        v = json_object_get(run, "signal");
        if (cases[i].signal)
            assert_int_equal(json_integer_value(v), cases[i].signal);
        else
            assert_true(json_is_null(v));
        v = json_object_get(run, "signal_name");
        if (cases[i].signal_name)
            assert_string_equal(json_string_value(v), cases[i].signal_name);
        else
            assert_true(json_is_null(v)); /* no signal, or a number without a name */
        v = json_object_get(run, "stop_signal");
        if (cases[i].stop_signal)
            assert_int_equal(json_integer_value(v), cases[i].stop_signal);
        else
            assert_true(json_is_null(v));
        v = json_object_get(run, "stop_signal_name");
        if (cases[i].stop_name)
            assert_string_equal(json_string_value(v), cases[i].stop_name);
        else
            assert_true(json_is_null(v));
        json_decref(j);
        wl_summary_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_says_how_a_measured_command_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
