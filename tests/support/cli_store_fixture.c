/* The store commands' CLI test fixture; see cli_store_fixture.h. */
#include "cli_store_fixture.h"

#include "run_rows.h"
#include "store_fixture.h"
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wl_test_line_value(const char *out, const char *label, char *buf, size_t size)
{
    const char *p = strstr(out, label);
    if (!p)
        fail_msg("no '%s' in: %s", label, out);
    p += strlen(label);
    p += strspn(p, " ");
    size_t n = strcspn(p, "\n");
    snprintf(buf, size, "%.*s", (int)n, p);
    return buf;
}

void wl_test_cli_write_run(wl_store *s, int64_t created_ms, const char *model, const char *tag,
                           double energy_j, char *id)
{
    const char *tags[] = {"cli", tag};
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .created_at_ms = created_ms,
                               .model_name = model,
                               .model_features_json = "{\"gqa\":false}",
                               .prompt = "Why is the sky blue?",
                               .tags = tags,
                               .n_tags = tag ? 2 : 1,
                               .experiment = "cli",
                               .depth = "deep",
                               .sampling_json = "{\"temperature\":0.7,\"top_k\":40}",
                               .sensor_provenance_json = "{\"model_only\":true}"};
    wl_store_run *r = NULL;
    assert_int_equal(wl_store_run_begin(s, &info, &r, id), 0);
    assert_int_equal(wl_store_run_set_extra(r, "exit_status", "0"), 0);
    struct wl_store_section secs[2] = {
        {.phase = "prefill",
         .name = "layers",
         .token_index = -1,
         .start_ms = 0,
         .end_ms = 400,
         .energy_j = 0.4 * energy_j,
         .method = WL_METHOD_MODEL_ESTIMATE},
        {.phase = "decode",
         .name = "tokens",
         .token_index = -1,
         .start_ms = 400,
         .end_ms = 1000,
         .energy_j = 0.6 * energy_j,
         .method = WL_METHOD_MODEL_ESTIMATE},
    };
    for (int i = 0; i < 2; i++)
        assert_int_equal(wl_store_add_section(r, &secs[i]), 0);
    struct wl_store_sample smp = {.t_ms = 500,
                                  .phase = "decode",
                                  .domain_mask = 1u << WL_DOMAIN_PACKAGE,
                                  .method_flags = 1u << WL_METHOD_MODEL_ESTIMATE};
    smp.power_w[WL_DOMAIN_PACKAGE] = 10;
    smp.energy_j[WL_DOMAIN_PACKAGE] = 5;
    assert_int_equal(wl_store_add_samples(r, &smp, 1), 0);
    float heads[2] = {1.5f, 0.5f};
    for (int t = 0; t < 4; t++) {
        struct wl_store_token tok = {.index = t,
                                     .text = t < 2 ? "in,put" : "out \"q\"",
                                     .is_input = t < 2,
                                     .start_ms = 250.0 * t,
                                     .end_ms = 250.0 * t + 250,
                                     .energy_j = energy_j / 4,
                                     .method = WL_METHOD_MODEL_ESTIMATE,
                                     .power_w = WL_STORE_UNSET};
        assert_int_equal(wl_store_add_token(r, &tok), 0);
        for (int l = 0; l < 2; l++) {
            struct wl_store_layer_metric lm = {t, l, 100, energy_j / 16};
            assert_int_equal(wl_store_add_layer_metric(r, &lm), 0);
            for (int c = 0; c < 2; c++) {
                struct wl_store_component_metric cm =
                    wl_test_component_row(t, l, c, c ? "ffn" : "attn", 50, energy_j / 32);
                cm.act_mean_abs = 0.5;
                assert_int_equal(wl_store_add_component_metric(r, &cm), 0);
                for (int o = 0; o < 2; o++) {
                    struct wl_store_op_metric om =
                        wl_test_op_row(t, l, c, o, o ? "softmax" : "qk", 25, energy_j / 64);
                    om.n_heads = 2;
                    om.head_entropy = heads;
                    om.entropy = 1.0;
                    assert_int_equal(wl_store_add_op_metric(r, &om), 0);
                }
            }
        }
    }
    struct wl_store_domain dom = {.domain = WL_DOMAIN_PACKAGE,
                                  .method = WL_METHOD_MODEL_ESTIMATE,
                                  .source = "cpu_model",
                                  .energy_j = energy_j,
                                  .avg_power_w = WL_STORE_UNSET,
                                  .baseline_power_w = 1,
                                  .peak_power_w = 20,
                                  .peak_t_ms = 600};
    struct wl_run_totals tot =
        wl_test_totals(WL_RUN_COMPLETE, 1000, energy_j, WL_METHOD_MODEL_ESTIMATE);
    tot.energy_scope = "package";
    tot.sample_rate_hz = 10;
    tot.domains = &dom;
    tot.n_domains = 1;
    assert_int_equal(wl_store_run_finish(r, &tot), 0);
}

int wl_test_cli_setup(void **state)
{
    struct wl_test_cli_fixture *f = calloc(1, sizeof *f);
    f->dir = wl_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/cli.db", f->dir);
    wl_store *s = wl_test_store_open(f->db);
    wl_test_cli_write_run(s, WL_TEST_T0_MS, "llama-tiny", "a", 10, f->ids[0]); /* J/token 5 */
    wl_test_cli_write_run(s, WL_TEST_T0_MS + WL_TEST_DAY_MS, "phi-tiny", "b", 4,
                          f->ids[1]); /* J/token 2 */
    wl_test_cli_write_run(s, WL_TEST_T0_MS + 2 * WL_TEST_DAY_MS, "llama-big", "a", 40, f->ids[2]);
    wl_store_close(s);
    *state = f;
    return 0;
}

int wl_test_cli_teardown(void **state)
{
    struct wl_test_cli_fixture *f = *state;
    wl_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* `wattlens <cmd> --db '<db>' <args>` as wl_test_run_cli runs it. */
static int cli_on_db(const char *db, const char *cmd, const char *args, char **out, char **err)
{
    char line[16384];
    snprintf(line, sizeof line, "%s --db '%s' %s", cmd, db, args);
    return wl_test_run_cli(line, out, err);
}

/* The same for a command that must succeed: its output (heap). */
static char *cli_on_db_text(const char *db, const char *cmd, const char *args)
{
    char *out = NULL, *err = NULL;
    int rc = cli_on_db(db, cmd, args, &out, &err);
    if (rc != 0)
        fail_msg("wattlens %s %s: exit %d: %s", cmd, args, rc, err ? err : "");
    free(err);
    return out;
}

/* The same for a command that must print JSON: the parsed output. */
static json_t *cli_on_db_json(const char *db, const char *cmd, const char *args)
{
    char *out = cli_on_db_text(db, cmd, args);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("wattlens %s %s: bad JSON (%s): %.200s", cmd, args, je.text, out);
    free(out);
    return j;
}

int wl_test_cli_db(const struct wl_test_cli_fixture *f, const char *cmd, const char *args,
                   char **out, char **err)
{
    return cli_on_db(f->db, cmd, args, out, err);
}

json_t *wl_test_cli_db_json(const struct wl_test_cli_fixture *f, const char *cmd, const char *args)
{
    return cli_on_db_json(f->db, cmd, args);
}

char *wl_test_show_text(const char *db, const char *id)
{
    return cli_on_db_text(db, "show", id);
}

json_t *wl_test_show_json(const char *db, const char *id)
{
    char args[128];
    snprintf(args, sizeof args, "%s --json", id);
    return cli_on_db_json(db, "show", args);
}

void wl_test_check_run_identity(json_t *run, const char *id, const char *created_at)
{
    assert_string_equal(json_string_value(json_object_get(run, "id")), id);
    assert_string_equal(json_string_value(json_object_get(run, "created_at")), created_at);
    json_t *tags = json_object_get(run, "tags");
    assert_true(json_is_array(tags));
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "a");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "cli");
}
