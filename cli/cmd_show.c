/* `wattlens show ID`: one stored run's summary (phases, efficiency, energy
 * per hardware domain, layers, components, the hottest components), as
 * tables or as JSON. Everything is computed from the store alone.
 */
#include "cli.h"
#include "cli_store.h"

#include "analysis/summary.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const cmd = "show";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens show [OPTIONS] ID\n"
            "\n"
            "Summarise one stored run: phase breakdown, efficiency (J/token, tokens/J,\n"
            "tokens/s, TTFT, ITL, EDP), energy per hardware domain with peaks and baseline,\n"
            "per-layer and per-component averages and the ten hottest components.\n"
            "ID is a run id or a unique prefix of at least 4 characters (see 'wattlens runs').\n"
            "\n"
            "Options:\n"
            "  --json               the summary as one JSON object\n"
            "  --layers N           show at most N layers in the layer table (default 48;\n"
            "                       0 = all)\n" WL_CLI_DB_HELP
            "  -h, --help           show this help\n"
            "\n"
            "Examples:\n"
            "  wattlens show 3f2a\n"
            "  wattlens show --json 3f2a9c1e-0b6d-4c1f-9a57-2d1e8b7c6a50\n");
}

static void print_header(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    const struct wl_store_run_detail *r = &a->run;
    char b1[48], b2[48], b3[48];
    printf("Run %s  (%s, %s)\n", r->row.id, wl_run_status_name(r->row.status),
           wl_run_kind_name(r->row.kind));
    if (r->row.model_name || r->model_path)
        printf("  model      %s%s%s%s\n", r->row.model_name ? r->row.model_name : "",
               r->model_path ? "  (" : "", r->model_path ? r->model_path : "",
               r->model_path ? ")" : "");
    if (r->row.command)
        printf("  command    %s\n", r->row.command);
    if (r->row.prompt)
        printf("  prompt     %.200s%s\n", r->row.prompt, strlen(r->row.prompt) > 200 ? "..." : "");
    printf("  created    %s UTC", wl_cli_format_date(r->row.created_at_ms, b1, sizeof b1));
    if (r->row.tags)
        printf("   tags: %s", r->row.tags);
    if (r->row.experiment)
        printf("   experiment: %s", r->row.experiment);
    if (r->depth)
        printf("   depth: %s", r->depth);
    printf("\n");
    printf("  energy     %s", wl_cli_fmt_energy(s->energy_j, b1, sizeof b1));
    if (r->row.has_energy_method)
        printf("  %s", wl_method_label(r->row.energy_method));
    else if (s->energy_from_phases)
        printf("  (run total missing: sum of its phases)");
    if (r->energy_scope)
        printf(", scope %s", r->energy_scope);
    printf("\n");
    printf("  duration   %s   avg power %s   samples %lld",
           wl_cli_fmt_duration(s->duration_ms, b1, sizeof b1),
           wl_cli_fmt(s->avg_power_w, 2, "W", b2, sizeof b2), (long long)a->n_samples);
    if (!isnan(r->sample_rate_hz))
        printf(" (at %s)", wl_cli_fmt(r->sample_rate_hz, 1, "Hz", b3, sizeof b3));
    printf("\n");
    if (r->error)
        printf("  error      %s\n", r->error);
    if (r->row.status == WL_RUN_INCOMPLETE)
        printf("  NOTE: this run's writer stopped before it finished; figures cover what was "
               "saved up to its last flush.\n");
    if (r->row.has_energy_method && r->row.energy_method == WL_METHOD_MODEL_ESTIMATE)
        printf("  NOTE: energy figures are ESTIMATED by wattlens's CPU-time model, not "
               "measured (no energy sensor was readable).\n");
}

static void print_phases(const struct wl_summary *s)
{
    if (s->n_phases == 0)
        return;
    char b[6][48];
    printf("\nPhases\n");
    printf("  %-16s %8s %12s %7s %12s %8s %11s\n", "PHASE", "SECTIONS", "DURATION", "DUR %",
           "ENERGY", "ENERGY %", "AVG POWER");
    for (size_t i = 0; i < s->n_phases; i++) {
        const struct wl_summary_phase *p = &s->phases[i];
        printf("  %-16s %8lld %12s %7s %12s %8s %11s\n", p->name, (long long)p->n_sections,
               wl_cli_fmt_duration(p->dur_ms, b[0], sizeof b[0]),
               wl_cli_fmt(p->dur_pct, 1, "", b[1], sizeof b[1]),
               wl_cli_fmt_energy(p->energy_j, b[2], sizeof b[2]),
               wl_cli_fmt(p->energy_pct, 1, "", b[3], sizeof b[3]),
               wl_cli_fmt(p->avg_power_w, 2, "W", b[4], sizeof b[4]));
    }
    if (!isnan(s->covered_energy_pct))
        printf("  (the phases' sections account for %s %% of the run's energy)\n",
               wl_cli_fmt(s->covered_energy_pct, 1, "", b[5], sizeof b[5]));
}

static void print_efficiency(const struct wl_summary *s)
{
    const struct wl_summary_efficiency *e = &s->eff;
    if (e->input_tokens <= 0 && e->output_tokens <= 0) {
        char b[48];
        printf("\nEfficiency\n  EDP (energy x delay)       %s\n",
               wl_cli_fmt(e->edp_js, 4, "J*s", b, sizeof b));
        return;
    }
    struct {
        const char *label;
        double v;
        int dec;
        const char *unit;
    } rows[] = {
        {"J/token (output)", e->j_per_token, 4, "J"},
        {"prefill J/input token", e->prefill_j_per_in_token, 4, "J"},
        {"decode J/output token", e->decode_j_per_out_token, 4, "J"},
        {"output/input energy ratio", e->out_in_energy_ratio, 2, "x"},
        {"tokens per joule", e->tokens_per_j, 3, "tok/J"},
        {"decode tokens/s", e->tokens_per_s, 2, "tok/s"},
        {"prefill tokens/s", e->prefill_tokens_per_s, 2, "tok/s"},
        {"time to first token", e->ttft_ms, 2, "ms"},
        {"mean inter-token latency", e->mean_itl_ms, 2, "ms"},
        {"inter-token latency p50", e->p50_itl_ms, 2, "ms"},
        {"inter-token latency p90", e->p90_itl_ms, 2, "ms"},
        {"EDP total", e->edp_js, 4, "J*s"},
        {"EDP per output token", e->edp_per_token_js, 6, "J*s"},
        {"EDP prefill", e->prefill_edp_js, 4, "J*s"},
        {"EDP decode", e->decode_edp_js, 4, "J*s"},
    };
    printf("\nEfficiency (%lld input, %lld output tokens)\n", (long long)e->input_tokens,
           (long long)e->output_tokens);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char b[48];
        printf("  %-27s %s\n", rows[i].label,
               wl_cli_fmt(rows[i].v, rows[i].dec, rows[i].unit, b, sizeof b));
    }
}

/* Energy per output token as one line of block characters (tokens averaged
 * into at most 64 columns), with its range. */
static void print_token_energy(const struct wl_store_aggregates *a)
{
    static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    size_t n = a->n_output_tokens;
    if (n < 2)
        return;
    size_t width = n < 64 ? n : 64;
    double v[64], lo = NAN, hi = NAN;
    for (size_t b = 0; b < width; b++) {
        size_t from = b * n / width, to = (b + 1) * n / width;
        double sum = 0;
        size_t k = 0;
        for (size_t i = from; i < to; i++) {
            if (!isnan(a->output_tokens[i].energy_j)) {
                sum += a->output_tokens[i].energy_j;
                k++;
            }
        }
        v[b] = k ? sum / (double)k : NAN;
        if (!isnan(v[b])) {
            lo = isnan(lo) || v[b] < lo ? v[b] : lo;
            hi = isnan(hi) || v[b] > hi ? v[b] : hi;
        }
    }
    if (isnan(lo))
        return;
    char b1[48], b2[48];
    printf("\nEnergy per output token (%zu tokens%s; %s .. %s)\n  ", n,
           n > width ? ", averaged into 64 columns" : "", wl_cli_fmt_energy(lo, b1, sizeof b1),
           wl_cli_fmt_energy(hi, b2, sizeof b2));
    for (size_t b = 0; b < width; b++) {
        if (isnan(v[b])) {
            fputs(" ", stdout);
            continue;
        }
        int level = hi > lo ? (int)((v[b] - lo) / (hi - lo) * 7.0 + 0.5) : 3;
        fputs(blocks[level], stdout);
    }
    printf("\n");
}

static void print_domains(const struct wl_store_aggregates *a, const struct wl_summary *s)
{
    if (s->n_domains == 0)
        return;
    char b[8][48];
    printf("\nEnergy by hardware domain (domains nest: core is inside package, package inside "
           "psys)\n");
    printf("  %-8s %-16s %12s %8s %10s %18s %10s %12s\n", "DOMAIN", "METHOD", "ENERGY", "% TOTAL",
           "AVG POWER", "PEAK (AT)", "BASELINE", "DYNAMIC");
    for (size_t i = 0; i < s->n_domains; i++) {
        const struct wl_summary_domain *d = &s->domains[i];
        char peak[64];
        if (isnan(d->peak_power_w))
            snprintf(peak, sizeof peak, "n/a");
        else
            snprintf(peak, sizeof peak, "%s (%s)",
                     wl_cli_fmt(d->peak_power_w, 1, "W", b[0], sizeof b[0]),
                     wl_cli_fmt_duration(d->peak_t_ms, b[1], sizeof b[1]));
        printf("  %-8s %-16s %12s %8s %10s %18s %10s %12s\n", wl_domain_name(d->domain),
               (unsigned)d->method < WL_METHOD_COUNT ? wl_method_key(d->method) : "?",
               wl_cli_fmt_energy(d->energy_j, b[2], sizeof b[2]),
               wl_cli_fmt(d->pct, 1, "", b[3], sizeof b[3]),
               wl_cli_fmt(d->avg_power_w, 2, "W", b[4], sizeof b[4]), peak,
               wl_cli_fmt(d->baseline_power_w, 2, "W", b[5], sizeof b[5]),
               wl_cli_fmt_energy(d->dynamic_energy_j, b[6], sizeof b[6]));
    }
    if (!isnan(s->dynamic_energy_j))
        printf("  run: baseline %s, dynamic energy above baseline %s\n",
               wl_cli_fmt(s->baseline_power_w, 2, "W", b[0], sizeof b[0]),
               wl_cli_fmt_energy(s->dynamic_energy_j, b[1], sizeof b[1]));
    /* Per phase: each domain's share of the phase's energy. */
    uint32_t mask = 0;
    for (size_t i = 0; i < s->n_phases; i++)
        mask |= s->phases[i].domain_mask;
    if (!mask)
        return;
    printf("  per phase (%% of the phase's energy):\n  %-16s", "PHASE");
    for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
        if ((mask >> d) & 1u)
            printf(" %9s", wl_domain_name((enum wl_domain)d));
    }
    printf("\n");
    for (size_t i = 0; i < s->n_phases; i++) {
        printf("  %-16s", s->phases[i].name);
        for (int d = 0; d < WL_DOMAIN_COUNT; d++) {
            if ((mask >> d) & 1u)
                printf(" %9s", wl_cli_fmt(s->phases[i].domain_pct[d], 1, "", b[0], sizeof b[0]));
        }
        printf("\n");
    }
    (void)a;
}

static void print_component_row(const struct wl_summary_component *c, bool with_layer)
{
    char b[6][48];
    if (with_layer)
        printf("  %5d", c->layer);
    printf("  %-14s %8lld %12s %12s %12s %8s %8s\n", c->name, (long long)c->n,
           wl_cli_fmt(c->avg_dur_ms, 4, "ms", b[0], sizeof b[0]),
           wl_cli_fmt_energy(c->avg_energy_j, b[1], sizeof b[1]),
           wl_cli_fmt_energy(c->total_energy_j, b[2], sizeof b[2]),
           wl_cli_fmt(c->dur_pct, 1, "", b[3], sizeof b[3]),
           wl_cli_fmt(c->energy_pct, 1, "", b[4], sizeof b[4]));
}

static void print_layers(const struct wl_summary *s, long max_layers)
{
    char b[4][48];
    if (s->n_layers > 0) {
        printf("\nLayers (average per token; energy attributed by time share)\n");
        printf("  %5s %8s %12s %12s %8s\n", "LAYER", "TOKENS", "AVG TIME", "AVG ENERGY",
               "ENERGY %");
        size_t n =
            max_layers > 0 && (size_t)max_layers < s->n_layers ? (size_t)max_layers : s->n_layers;
        for (size_t i = 0; i < n; i++) {
            const struct wl_summary_layer *l = &s->layers[i];
            printf("  %5d %8lld %12s %12s %8s\n", l->layer, (long long)l->n,
                   wl_cli_fmt(l->avg_dur_ms, 4, "ms", b[0], sizeof b[0]),
                   wl_cli_fmt_energy(l->avg_energy_j, b[1], sizeof b[1]),
                   wl_cli_fmt(l->energy_pct, 1, "", b[2], sizeof b[2]));
        }
        if (n < s->n_layers)
            printf("  ... %zu more (--layers 0 shows all)\n", s->n_layers - n);
    }
    if (s->n_components > 0) {
        printf("\nComponents (average per token and layer; energy attributed)\n");
        printf("  %-14s %8s %12s %12s %12s %8s %8s\n", "COMPONENT", "COUNT", "AVG TIME",
               "AVG ENERGY", "TOTAL", "TIME %", "ENERGY %");
        for (size_t i = 0; i < s->n_components; i++)
            print_component_row(&s->components[i], false);
        printf("\nHottest components (layer, component) by energy\n");
        printf("  %5s  %-14s %8s %12s %12s %12s %8s %8s\n", "LAYER", "COMPONENT", "COUNT",
               "AVG TIME", "AVG ENERGY", "TOTAL", "TIME %", "ENERGY %");
        for (size_t i = 0; i < s->n_hottest; i++)
            print_component_row(&s->hottest[i], true);
        printf("\nSlowest components (layer, component) by time\n");
        printf("  %5s  %-14s %8s %12s %12s %12s %8s %8s\n", "LAYER", "COMPONENT", "COUNT",
               "AVG TIME", "AVG ENERGY", "TOTAL", "TIME %", "ENERGY %");
        for (size_t i = 0; i < s->n_slowest; i++)
            print_component_row(&s->slowest[i], true);
    }
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"layers", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        WL_CLI_DB_OPTION,
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    long max_layers = 48;
    const char *db = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'L':
            if (!wl_cli_parse_long(cmd, "--layers", optarg, 0, 1000000, &max_layers))
                return WL_EXIT_USAGE;
            break;
        case WL_CLI_OPT_DB:
            db = optarg;
            break;
        case 'h':
            usage(stdout);
            return WL_EXIT_OK;
        default:
            return wl_cli_usage_error(cmd, "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return wl_cli_usage_error(cmd, optind >= argc ? "missing run ID"
                                                      : "expected exactly one run ID");
    wl_store *s = NULL;
    int rc = wl_cli_store_open(cmd, db, &s);
    if (rc != WL_EXIT_OK)
        return rc;
    char id[37];
    struct wl_store_aggregates a;
    struct wl_summary sum;
    if (!wl_cli_resolve_run(cmd, s, argv[optind], id)) {
        wl_store_close(s);
        return WL_EXIT_FAIL;
    }
    if (wl_store_summary(s, id, &a) != 0) {
        rc = wl_cli_fail(cmd, "%s", wl_store_last_error(s));
        wl_store_close(s);
        return rc;
    }
    if (wl_summary_compute(&a, &sum) != 0) {
        wl_store_aggregates_free(&a);
        wl_store_close(s);
        return wl_cli_fail(cmd, "out of memory");
    }
    if (json) {
        rc = wl_cli_print_json(wl_summary_to_json(&a, &sum));
    } else {
        print_header(&a, &sum);
        print_phases(&sum);
        print_efficiency(&sum);
        print_token_energy(&a);
        print_domains(&a, &sum);
        print_layers(&sum, max_layers);
        printf("\nExport everything: wattlens export %.8s --format json|csv\n", id);
        rc = fflush(stdout) == 0 ? WL_EXIT_OK : WL_EXIT_FAIL;
    }
    wl_summary_free(&sum);
    wl_store_aggregates_free(&a);
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_show = {"show", "summarise one stored run", run};
