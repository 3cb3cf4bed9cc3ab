/* Store benchmark: writes a synthetic deep run (512 tokens x 22 layers x 9
 * components, with ops: about a million rows) the way the recorder will,
 * then times its summary query, a listing and the run's deletion. Prints
 * figures against the targets (write <= 1 s, summary <= 50 ms); never
 * asserts on time. Uses a temporary database under $TMPDIR.
 */
#include "bench_support.h"
#include "store/store.h"
#include "util/clock.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_TOKENS 512
#define N_LAYERS 22
#define N_COMPONENTS 9
#define N_INPUT 32
#define N_OPS 8 /* per component: pads the real op lists to the issue's ~1M rows */

/* Ops per component, as a llama layer in deep mode records them. */
static const char *const comp_names[N_COMPONENTS] = {
    "attn_norm", "q", "k", "v", "attention", "o", "ffn_norm", "ffn", "down",
};
static const char *const comp_ops[N_COMPONENTS][4] = {
    {"mean", "variance", "normalise", "scale"},
    {"matmul"},
    {"matmul"},
    {"matmul", "rope"},
    {"qk", "scale_mask", "softmax", "av"},
    {"matmul"},
    {"mean", "variance", "normalise", "scale"},
    {"gate", "up", "gate_x_up"},
    {"matmul"},
};

static double ms_since(uint64_t t0)
{
    return (double)(wl_clock_now_ns() - t0) / 1e6;
}

static int die(wl_store *s, const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s: %s (%s)\n", what, wl_strerror(rc),
            s ? wl_store_last_error(s) : "");
    return 1;
}

/* Writes the deep run the way the recorder will: per token, its section,
 * sample, layers, components and ops. Returns 0 or 1 (after printing). */
static int write_deep_run(wl_store *s, char *id, int64_t *rows_out, double *finish_ms)
{
    float heads[32];
    for (int h = 0; h < 32; h++)
        heads[h] = 0.01f * (float)h;
    struct wl_run_info info = {.kind = WL_RUN_KIND_INFERENCE,
                               .model_name = "synthetic-1.1b",
                               .prompt = "benchmark",
                               .depth = "deep"};
    wl_store_run *r = NULL;
    int64_t rows = 0;
    int rc = wl_store_run_begin(s, &info, &r, id);
    if (rc != 0)
        return die(s, "begin", rc);
    for (int t = 0; t < N_TOKENS && rc == 0; t++) {
        double t_ms = 100.0 + 20.0 * t;
        struct wl_store_token tok = {.index = t,
                                     .text = "tok",
                                     .is_input = t < N_INPUT,
                                     .start_ms = t_ms,
                                     .end_ms = t_ms + 20,
                                     .energy_j = 0.3,
                                     .method = WL_METHOD_COUNTER,
                                     .power_w = WL_STORE_UNSET};
        rc = wl_store_add_token(r, &tok);
        struct wl_store_section sec = {.phase = t < N_INPUT ? "prefill" : "decode",
                                       .name = "token",
                                       .token_index = t,
                                       .start_ms = t_ms,
                                       .end_ms = t_ms + 20,
                                       .energy_j = 0.3};
        if (rc == 0)
            rc = wl_store_add_section(r, &sec);
        struct wl_store_sample smp = {
            .t_ms = t_ms, .phase = sec.phase, .domain_mask = 1u << WL_DOMAIN_PACKAGE};
        smp.power_w[WL_DOMAIN_PACKAGE] = 15;
        smp.energy_j[WL_DOMAIN_PACKAGE] = 0.3 * t;
        if (rc == 0)
            rc = wl_store_add_samples(r, &smp, 1);
        rows += 3;
        for (int l = 0; l < N_LAYERS && rc == 0; l++) {
            struct wl_store_layer_metric lm = {t, l, 0.8, 0.012};
            rc = wl_store_add_layer_metric(r, &lm);
            rows++;
            for (int c = 0; c < N_COMPONENTS && rc == 0; c++) {
                struct wl_store_component_metric cm = {.token_index = t,
                                                       .layer = l,
                                                       .component = c,
                                                       .name = comp_names[c],
                                                       .dur_ms = 0.08 + 0.001 * c,
                                                       .energy_j = 0.0012 + 0.0001 * c,
                                                       .act_mean_abs = 0.5,
                                                       .act_std = 0.2,
                                                       .act_max_abs = 3,
                                                       .act_sparsity = 0.1};
                rc = wl_store_add_component_metric(r, &cm);
                rows++;
                for (int o = 0; o < N_OPS && rc == 0; o++) {
                    bool attn = c == 4;
                    const char *oname = (o < 4 && comp_ops[c][o]) ? comp_ops[c][o] : "step";
                    struct wl_store_op_metric om = {.token_index = t,
                                                    .layer = l,
                                                    .component = c,
                                                    .op = o,
                                                    .name = oname,
                                                    .dur_ms = 0.02,
                                                    .energy_j = 0.0003,
                                                    .n_heads = attn && o == 2 ? 32 : 0,
                                                    .head_entropy = heads,
                                                    .head_max_weight = heads,
                                                    .head_sparsity = heads,
                                                    .entropy = attn ? 1.5 : WL_STORE_UNSET,
                                                    .max_weight = attn ? 0.4 : WL_STORE_UNSET,
                                                    .sparsity = attn ? 0.7 : WL_STORE_UNSET,
                                                    .kill_ratio = c == 7 ? 0.3 : WL_STORE_UNSET,
                                                    .var_ratio =
                                                        c == 0 || c == 6 ? 1.1 : WL_STORE_UNSET};
                    rc = wl_store_add_op_metric(r, &om);
                    rows++;
                }
            }
        }
    }
    if (rc != 0)
        return die(s, "writing", rc);
    struct wl_run_totals tot = {.status = WL_RUN_COMPLETE,
                                .duration_ms = 100 + 20.0 * N_TOKENS,
                                .energy_j = 0.3 * N_TOKENS,
                                .energy_method = WL_METHOD_COUNTER,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .sample_count = -1,
                                .sample_rate_hz = 50};
    uint64_t t_fin = wl_clock_now_ns();
    rc = wl_store_run_finish(r, &tot);
    *finish_ms = ms_since(t_fin);
    if (rc != 0)
        return die(s, "finish", rc);
    *rows_out = rows;
    return 0;
}

static const char usage[] =
    "usage: bench_store [-h | --help]\n"
    "\n"
    "The store under a deep run: writes a synthetic one (512 tokens x 22 layers x\n"
    "9 components, with ops: about a million rows) as the recorder does, then\n"
    "times its summary query, a listing and the run's deletion. Prints figures\n"
    "against the targets (write <= 1 s, summary <= 50 ms); never asserts on time.\n"
    "\n"
    "Environment:\n"
    "  TMPDIR  where the temporary database goes (default /tmp)\n"
    "\n"
    "Exit status: 0; 1 when the database cannot be made, written, read or a run\n"
    "deleted; 2 for any argument but -h / --help.\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_store", usage);
    if (args >= 0)
        return args;
    /* one way out (out:): the store is closed and the temporary directory
     * removed whatever failed (a full disk must not also keep the partial
     * database and its WAL) */
    char dir[4096], path[4200];
    if (wl_bench_mkdtemp("bench_store", "wattlens-bench", dir, sizeof dir) != 0)
        return 1;
    int status = 1;
    snprintf(path, sizeof path, "%s/bench.db", dir);
    struct wl_store_params p;
    wl_store_default_params(&p);
    p.path = path;
    wl_store *s = NULL;
    struct wl_errmsg e = {{0}};
    int rc = wl_store_open(&p, &s, &e);
    if (rc != 0) {
        fprintf(stderr, "bench_store: %s\n", e.text);
        goto out;
    }
    /* The machine is shared: the best of three writes is the figure least
     * disturbed by other processes (CPU time is printed too). */
    char id[37];
    int64_t rows = 0;
    double write_ms = 1e30, write_cpu_ms = 0, finish_ms = 0, delete_ms = 1e30;
    for (int round = 0; round < 3; round++) {
        double fin = 0;
        uint64_t t0 = wl_clock_now_ns(), cpu0 = wl_clock_process_cpu_ns();
        if (write_deep_run(s, id, &rows, &fin) != 0)
            goto out;
        double ms = ms_since(t0);
        if (ms < write_ms) {
            write_ms = ms;
            write_cpu_ms = (double)(wl_clock_process_cpu_ns() - cpu0) / 1e6;
            finish_ms = fin;
        }
        if (round == 2)
            break;
        t0 = wl_clock_now_ns();
        rc = wl_store_delete_run(s, id, false);
        if (rc != 0) {
            die(s, "delete", rc);
            goto out;
        }
        ms = ms_since(t0);
        if (ms < delete_ms)
            delete_ms = ms;
    }

    uint64_t t0;
    double best_summary = 1e30;
    size_t n_comp = 0;
    for (int i = 0; i < 5; i++) {
        struct wl_store_aggregates a;
        t0 = wl_clock_now_ns();
        rc = wl_store_summary(s, id, &a);
        double ms = ms_since(t0);
        if (rc != 0) {
            die(s, "summary", rc);
            goto out;
        }
        n_comp = a.n_components;
        wl_store_aggregates_free(&a);
        if (ms < best_summary)
            best_summary = ms;
    }
    struct wl_run_list l;
    t0 = wl_clock_now_ns();
    rc = wl_store_list_runs(s, NULL, WL_SORT_JPT, 20, 0, &l);
    double list_ms = ms_since(t0);
    if (rc != 0) {
        die(s, "list", rc);
        goto out;
    }
    wl_run_list_free(&l);
    struct wl_store_stats st;
    wl_store_stats(s, &st);

    printf("deep run: %d tokens x %d layers x %d components with ops = %lld rows\n", N_TOKENS,
           N_LAYERS, N_COMPONENTS, (long long)rows);
    printf("  op_metrics %lld, component_metrics %lld, layer_metrics %lld, tokens %lld\n",
           (long long)st.rows[WL_TABLE_OPS], (long long)st.rows[WL_TABLE_COMPONENTS],
           (long long)st.rows[WL_TABLE_LAYERS], (long long)st.rows[WL_TABLE_TOKENS]);
    printf("  database size      %8.1f MB\n", (double)st.file_bytes / 1e6);
    printf("  write, best of 3    %8.1f ms  target <= 1000 ms  ratio %.2f  (%.2f M rows/s)\n",
           write_ms, write_ms / 1000.0, (double)rows / write_ms / 1000.0);
    printf("    of which finish    %8.1f ms  (last batch, totals, per-component aggregates)\n",
           finish_ms);
    printf("    of which CPU       %8.1f ms  (wall time above includes waiting for a shared "
           "machine and the disk)\n",
           write_cpu_ms);
    printf("  summary (best of 5)  %8.2f ms  target <= 50 ms    ratio %.2f  (%zu component rows)\n",
           best_summary, best_summary / 50.0, n_comp);
    printf("  list (jpt, 20)       %8.2f ms\n", list_ms);
    printf("  delete run (best of 2) %6.1f ms\n", delete_ms);
    status = 0;
out:
    wl_store_close(s);
    wl_bench_rmtree("bench_store", dir);
    return status;
}
