/* Rows and runs the summary, export and show tests write; see run_rows.h. */
#include "run_rows.h"

#include "store_fixture.h"
#include "test_support.h"

#include <string.h>

struct wl_store_domain wl_test_domain_row(enum wl_domain d, enum wl_method method,
                                          const char *source, double energy_j, double avg_power_w)
{
    return (struct wl_store_domain){.domain = d,
                                    .method = method,
                                    .source = source,
                                    .energy_j = energy_j,
                                    .avg_power_w = avg_power_w,
                                    .baseline_power_w = WL_STORE_UNSET,
                                    .peak_power_w = WL_STORE_UNSET,
                                    .peak_t_ms = WL_STORE_UNSET};
}

struct wl_store_component_metric wl_test_component_row(int64_t token_index, int32_t layer,
                                                       int32_t component, const char *name,
                                                       double dur_ms, double energy_j)
{
    return (struct wl_store_component_metric){.token_index = token_index,
                                              .layer = layer,
                                              .component = component,
                                              .name = name,
                                              .dur_ms = dur_ms,
                                              .energy_j = energy_j,
                                              .act_mean_abs = WL_STORE_UNSET,
                                              .act_std = WL_STORE_UNSET,
                                              .act_max_abs = WL_STORE_UNSET,
                                              .act_sparsity = WL_STORE_UNSET};
}

struct wl_store_op_metric wl_test_op_row(int64_t token_index, int32_t layer, int32_t component,
                                         int32_t op, const char *name, double dur_ms,
                                         double energy_j)
{
    return (struct wl_store_op_metric){.token_index = token_index,
                                       .layer = layer,
                                       .component = component,
                                       .op = op,
                                       .name = name,
                                       .dur_ms = dur_ms,
                                       .energy_j = energy_j,
                                       .entropy = WL_STORE_UNSET,
                                       .max_weight = WL_STORE_UNSET,
                                       .sparsity = WL_STORE_UNSET,
                                       .kill_ratio = WL_STORE_UNSET,
                                       .var_ratio = WL_STORE_UNSET};
}

void wl_test_store_make_filler_runs(wl_store *s, int n)
{
    char id[37];
    for (int i = 0; i < n; i++) {
        struct wl_test_run_spec sp = {.created_at_ms = WL_TEST_T0_MS + i,
                                      .duration_ms = 1,
                                      .energy_j = 1,
                                      .n_in = 20,
                                      .n_out = 200};
        wl_test_store_make_run(s, &sp, id);
    }
}

void wl_test_agg_finished_run(struct wl_store_aggregates *a, double energy_j, double duration_ms)
{
    memset(a, 0, sizeof *a);
    a->run.row.kind = WL_RUN_KIND_INFERENCE;
    a->run.row.status = WL_RUN_COMPLETE;
    a->run.row.energy_j = energy_j;
    a->run.row.duration_ms = duration_ms;
    a->run.row.input_tokens = a->run.row.output_tokens = -1;
    a->span.last_token = -1;
}

void wl_test_store_make_parted_run(wl_store *s, int n_sec, int n_rows, char *id)
{
    static const double out_e[5] = {2.0, 2.5, 1.5, 3.0, 4.0};
    assert_true(n_sec <= 5 && n_rows <= 5);
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE, .model_name = "parted"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    struct wl_store_section sec = {.phase = "pre_inference",
                                   .name = "tokenize",
                                   .token_index = -1,
                                   .start_ms = 0,
                                   .end_ms = 100,
                                   .energy_j = 0.5,
                                   .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    sec = (struct wl_store_section){.phase = "prefill",
                                    .name = "layers",
                                    .token_index = -1,
                                    .start_ms = 100,
                                    .end_ms = 300,
                                    .energy_j = 3.0,
                                    .method = WL_METHOD_COUNTER};
    assert_int_equal(wl_store_add_section(r, &sec), 0);
    for (int t = 0; t < 3; t++) {
        struct wl_store_token tok = {.index = t,
                                     .is_input = true,
                                     .start_ms = WL_STORE_UNSET,
                                     .end_ms = WL_STORE_UNSET,
                                     .energy_j = 1.0,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    for (int i = 0; i < n_sec; i++) {
        sec = (struct wl_store_section){.phase = "decode",
                                        .name = "token",
                                        .token_index = 3 + i,
                                        .start_ms = 300 + 200.0 * i,
                                        .end_ms = 500 + 200.0 * i,
                                        .energy_j = out_e[i],
                                        .method = WL_METHOD_COUNTER};
        assert_int_equal(wl_store_add_section(r, &sec), 0);
    }
    for (int i = 0; i < n_rows; i++) {
        struct wl_store_token tok = {.index = 3 + i,
                                     .start_ms = 300 + 200.0 * i,
                                     .end_ms = 500 + 200.0 * i,
                                     .energy_j = out_e[i],
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
    }
    assert_int_equal(wl_store_flush(r), 0);
    wl_store_run_abandon(r);
}
