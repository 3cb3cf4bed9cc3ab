/* `wattlens runs`: list stored runs with filters, sorting and pagination,
 * as a table or as JSON ({"runs": [...], "total": N}).
 */
#include "cli.h"
#include "cli_store.h"
#include "cli_text.h"

#include "analysis/run_json.h"
#include "util/json_text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const cmd = "runs";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens runs [OPTIONS]\n"
            "\n"
            "List the runs kept in the run database, newest first.\n"
            "\n"
            "Filters (combine freely; all must match; none may be empty):\n"
            "  --model M            model name or path contains M (measure runs: the command)\n"
            "  --tag T              runs tagged T\n"
            "  --experiment E       runs of experiment E\n"
            "  --since TIME         created at or after TIME\n"
            "  --until TIME         created before TIME\n"
            "                       TIME: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC), or an age:\n"
            "                       a number (fractions allowed) and a unit m, h, d or w,\n"
            "                       such as 30m, 1.5h, 7d, 2w\n"
            "  --search TEXT        prompt contains TEXT (case-insensitive)\n"
            "\n"
            "Order and pages:\n"
            "  --sort KEY           date (newest first, default), duration (longest first),\n"
            "                       energy (most first) or jpt (J per output token, lowest\n"
            "                       first; runs without tokens last)\n"
            "  --limit N            at most N runs (default 20; 0 = all)\n"
            "  --offset N           skip the first N matching runs (default 0)\n"
            "\n"
            "Output:\n"
            "  --json               JSON object: {\"runs\": [{\"id\": ..., ...}], \"total\": "
            "N}\n" WL_CLI_STORE_HELP "\n"
            "A run that never finished (running, or incomplete: stopped) has no totals; it\n"
            "shows what it saved, each such figure marked '*' (\"partial\": true in JSON).\n"
            "When it stopped between two saves, its J/TOKEN covers only the output tokens\n"
            "saved with both their sections and their rows (JSON \"per_token_span\":\n"
            "{\"last_token_index\", \"output_tokens\", \"energy_j\"}; null otherwise).\n"
            "With sections saved without energy (a sensor read failed), its ENERGY is\n"
            "n/a* (\"sections_without_energy\": N in JSON): the sum of the others is low.\n"
            "Energies that are estimated, not measured (wholly or partly by wattlens's\n"
            "CPU-time model, on a machine without a readable CPU energy sensor), are\n"
            "marked '~' (\"energy_method\" in JSON; 'show ID' names each domain's method).\n"
            "A run that recorded nothing (stopped during its set-up or idle\n"
            "baseline) shows n/a and sorts with the runs without figures.\n"
            "A run whose stored extra fields (runs.extra: price, currency, ...) are not\n"
            "readable JSON is named in a NOTE (\"extra_unreadable\": true in JSON), as\n"
            "'show ID' does: its cost and CO2 there are at the default price and intensity.\n"
            "\n"
            "Examples:\n"
            "  wattlens runs\n"
            "  wattlens runs --model llama --since 7d --sort jpt\n"
            "  wattlens runs --tag baseline --limit 50 --offset 50 --json\n");
}

static json_t *row_json(const struct wl_run_row *r)
{
    json_t *o = wl_run_json_identity(r);
    json_object_set_new(o, "duration_ms", wl_json_real_or_null(r->duration_ms));
    json_object_set_new(o, "energy_j", wl_json_real_or_null(r->energy_j));
    json_object_set_new(o, "energy_method",
                        r->has_energy_method ? json_string(wl_method_key(r->energy_method))
                                             : json_null());
    json_object_set_new(o, "input_tokens",
                        r->input_tokens >= 0 ? json_integer(r->input_tokens) : json_null());
    json_object_set_new(o, "output_tokens",
                        r->output_tokens >= 0 ? json_integer(r->output_tokens) : json_null());
    json_object_set_new(o, "j_per_token", wl_json_real_or_null(r->j_per_token));
    /* a run that never finished: the figures above are sums of what it saved */
    json_object_set_new(o, "partial", json_boolean(r->partial));
    json_object_set_new(o, "sections_without_energy",
                        r->partial ? json_integer(r->sections_no_energy) : json_null());
    /* null, or the span j_per_token covers when the run's decode sections
     * and token rows stop at different tokens (as show --json's
     * efficiency.per_token_span): energy_j / output_tokens of the span */
    json_t *span = json_null();
    if (r->span_last_token >= 0) {
        span = json_object();
        json_object_set_new(span, "last_token_index", json_integer(r->span_last_token));
        json_object_set_new(span, "output_tokens", json_integer(r->span_output_tokens));
        json_object_set_new(span, "energy_j", wl_json_real_or_null(r->span_energy_j));
    }
    json_object_set_new(o, "per_token_span", span);
    /* as show --json's totals.extra_unreadable */
    json_object_set_new(o, "extra_unreadable", json_boolean(r->extra_unreadable));
    return o;
}

/* Appends mark ('*' partial, '~' estimated) to a known figure in buf;
 * returns whether it did. */
static bool mark_figure(char *buf, size_t size, bool known, char mark)
{
    size_t n = strlen(buf);
    if (!known || n + 1 >= size)
        return false;
    buf[n] = mark;
    buf[n + 1] = '\0';
    return true;
}

/* The footnote of '~': what the marked energies are, per method. */
static void print_estimate_note(uint32_t methods)
{
    static const char *const what[WL_METHOD_COUNT] = {
        [WL_METHOD_VENDOR_ESTIMATE] = "are the sensor vendor's own estimate",
        [WL_METHOD_MODEL_ESTIMATE] = "come wholly or partly from\n  wattlens's CPU-time model, "
                                     "as no CPU energy sensor was readable\n  ('wattlens show ID' "
                                     "says which domains were measured)",
        /* no wattlens writer stores a run's or a section's energy as
         * attributed (no sensor has that method), another writer's
         * database can */
        [WL_METHOD_ATTRIBUTED] = "are attributed (share):\n  equal or time shares of another "
                                 "figure",
    };
    if (methods)
        printf("\n");
    for (int m = 0; m < WL_METHOD_COUNT; m++) {
        if ((methods >> m) & 1u)
            printf("~ estimated, not measured (%s): ENERGY and J/TOKEN %s.\n",
                   wl_method_key((enum wl_method)m), what[m] ? what[m] : "are not measured");
    }
}

/* The NOTE naming the listed runs whose stored extra fields do not parse,
 * as show's: a figure show takes from them (cost, CO2) falls back to its
 * default there; no figure of this list comes from them. */
static void print_extra_note(const struct wl_run_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->rows[i].extra_unreadable;
    if (n == 0)
        return;
    printf("\nNOTE: the stored extra fields (runs.extra) of run%s ", n == 1 ? "" : "s");
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->rows[i].extra_unreadable)
            continue;
        char id8[9], id[64];
        snprintf(id8, sizeof id8, "%.8s", l->rows[i].id); /* from the database: escaped */
        printf("%s%s", k++ ? ", " : "", wl_cli_text(id8, id, sizeof id));
    }
    printf(
        " are not a\n  readable JSON object: what they hold is not used ('wattlens show ID' gives "
        "the\n  cost and CO2 at the default price and intensity).\n");
}

/* Whether f selects anything. */
static bool filter_is_set(const struct wl_store_filter *f)
{
    return f->model || f->tag || f->experiment || f->has_since || f->has_until || f->search;
}

/* A text filter's value into *out; an empty one is a usage error naming
 * the option (false), not a filter: `--tag "$TAG"` with TAG unset would
 * otherwise list no run (an exact match of "") or every run (the empty
 * substring) and look like an answer. what: what the option needs. */
static bool filter_text(const char *opt, const char *what, const char *value, const char **out)
{
    if (!*value) {
        wl_cli_usage_error(cmd, "%s needs %s (it is empty)", opt, what);
        return false;
    }
    *out = value;
    return true;
}

/* n_all: the runs in the database (without a filter, the list's total),
 * -1 when they could not be counted. */
static void print_table(const struct wl_run_list *l, int64_t offset, int64_t n_all)
{
    if (l->n == 0) {
        if (l->total == 0 && n_all > 0) /* the runs exist: the filters left none */
            printf("No runs match these filters (the database holds %lld run%s).\n",
                   (long long)n_all, n_all == 1 ? "" : "s");
        else if (l->total == 0 && n_all < 0)
            printf("No runs match these filters.\n");
        else if (l->total == 0)
            printf("No runs in the database yet. Record one with 'wattlens measure -- CMD' or "
                   "'wattlens run'.\n");
        else
            printf("No runs on this page (%lld match; lower --offset).\n", (long long)l->total);
        return;
    }
    printf("%-8s  %-16s  %-10s  %-9s  %-24s  %10s  %11s  %11s  %9s  %s\n", "ID", "CREATED (UTC)",
           "STATUS", "KIND", "MODEL / COMMAND", "DURATION", "ENERGY", "J/TOKEN", "TOKENS", "TAGS");
    bool any_partial = false, any_no_energy = false;
    uint32_t estimated = 0; /* bit (1 << method) of each estimate listed */
    for (size_t i = 0; i < l->n; i++) {
        const struct wl_run_row *r = &l->rows[i];
        /* cells of text are measured in display columns, not bytes: a model
         * name in CJK or with accents must not push the columns after it
         * (256 bytes: room for a cell's characters and combining marks).
         * Stored text is escaped as show escapes it (\x1b, \xNN, \x00),
         * every byte by its stored length, then cut with "..." */
        char date[32], what[256], dur[32], en[32], jpt[32], tok[48], tags[256], id8[9], id[64];
        const char *name = r->model_name ? r->model_name : r->command;
        const size_t name_len = r->model_name ? r->model_name_len : r->command_len;
        bool has_tokens = r->input_tokens >= 0 || r->output_tokens >= 0;
        if (has_tokens)
            snprintf(tok, sizeof tok, "%lld/%lld",
                     (long long)(r->input_tokens > 0 ? r->input_tokens : 0),
                     (long long)(r->output_tokens > 0 ? r->output_tokens : 0));
        else
            snprintf(tok, sizeof tok, "-");
        wl_cli_fmt_duration(r->duration_ms, dur, sizeof dur);
        wl_cli_fmt_energy(r->energy_j, en, sizeof en);
        wl_cli_fmt_energy(r->j_per_token, jpt, sizeof jpt);
        /* '~': an estimate, not a measurement; '*': summed from what an
         * unfinished run saved (the notes below) */
        if (r->has_energy_method && !wl_method_is_measured(r->energy_method)) {
            bool marked = mark_figure(en, sizeof en, isfinite(r->energy_j), '~');
            marked |= mark_figure(jpt, sizeof jpt, isfinite(r->j_per_token), '~');
            if (marked && (unsigned)r->energy_method < WL_METHOD_COUNT)
                estimated |= 1u << r->energy_method;
        }
        if (r->partial) {
            /* n/a*: sections saved without energy (store.h) */
            const bool no_e = r->sections_no_energy > 0;
            any_no_energy |= no_e;
            any_partial |= mark_figure(dur, sizeof dur, isfinite(r->duration_ms), '*');
            any_partial |= mark_figure(en, sizeof en, isfinite(r->energy_j) || no_e, '*');
            any_partial |= mark_figure(jpt, sizeof jpt, isfinite(r->j_per_token) || no_e, '*');
            any_partial |= mark_figure(tok, sizeof tok, has_tokens, '*');
        }
        snprintf(id8, sizeof id8, "%.8s", r->id); /* from the database: escaped */
        printf("%s  %-16s  %-10s  %-9s  %s  %10s  %11s  %11s  %9s  %s\n",
               wl_cli_text_pad(id8, 8, id, sizeof id),
               wl_cli_format_date(r->created_at_ms, date, sizeof date),
               wl_run_status_name(r->status), wl_run_kind_name(r->kind),
               wl_cli_textn_cell(name, name_len, 24, true, what, sizeof what), dur, en, jpt, tok,
               wl_cli_textn_cell(r->tags, r->tags_len, 30, false, tags, sizeof tags));
    }
    print_estimate_note(estimated);
    if (any_partial)
        printf("\n* partial: the run has no totals (still running, or incomplete: stopped before "
               "it\n  finished); the marked figures add up only what it saved. Its J/TOKEN "
               "counts only the\n  output tokens saved with both their sections and their "
               "rows, so it can differ from\n  ENERGY / TOKENS ('wattlens show ID' says how "
               "many were left out).\n");
    if (any_no_energy)
        printf("  n/a*: the run saved sections without energy (a sensor read failed at their "
               "start or\n  end), and the sum of the others would be low.\n");
    print_extra_note(l);
    /* "1 of 1 run", "run 6 of 12", "runs 1-5 of 12" */
    const long long first = (long long)offset + 1, last = (long long)offset + (long long)l->n;
    const long long total = (long long)l->total;
    if (total == 1)
        printf("\n1 of 1 run.");
    else if (l->n == 1)
        printf("\nrun %lld of %lld.", first, total);
    else
        printf("\nruns %lld-%lld of %lld.", first, last, total);
    printf(" 'wattlens show ID' for one run (an ID prefix is enough).\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"tag", required_argument, NULL, 't'},
        {"experiment", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"search", required_argument, NULL, 's'},
        {"sort", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'},
        {"offset", required_argument, NULL, 'f'},
        WL_CLI_JSON_OPTION,
        WL_CLI_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct wl_store_filter flt = {0};
    enum wl_store_sort sort = WL_SORT_DATE;
    long limit = 20, offset = 0;
    struct wl_cli_store_opts so;
    wl_cli_store_opts_init(&so, cmd, usage, opts);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (!filter_text("--model", "a model name or part of one", optarg, &flt.model))
                return WL_EXIT_USAGE;
            break;
        case 't':
            if (!filter_text("--tag", "a tag", optarg, &flt.tag))
                return WL_EXIT_USAGE;
            break;
        case 'e':
            if (!filter_text("--experiment", "an experiment name", optarg, &flt.experiment))
                return WL_EXIT_USAGE;
            break;
        case 'S':
            if (!wl_cli_parse_time(cmd, "--since", optarg, &flt.since_ms))
                return WL_EXIT_USAGE;
            flt.has_since = true;
            break;
        case 'U':
            if (!wl_cli_parse_time(cmd, "--until", optarg, &flt.until_ms))
                return WL_EXIT_USAGE;
            flt.has_until = true;
            break;
        case 's':
            if (!filter_text("--search", "a text to find in the prompts", optarg, &flt.search))
                return WL_EXIT_USAGE;
            break;
        case 'o':
            if (wl_store_sort_parse(optarg, &sort) != 0)
                return wl_cli_usage_error(cmd,
                                          "invalid value '%s' for --sort (expected date, "
                                          "duration, energy or jpt)",
                                          optarg);
            break;
        case 'l':
            if (!wl_cli_parse_long(cmd, "--limit", optarg, 0, 1000000000L, &limit))
                return WL_EXIT_USAGE;
            break;
        case 'f':
            if (!wl_cli_parse_long(cmd, "--offset", optarg, 0, 1000000000L, &offset))
                return WL_EXIT_USAGE;
            break;
        default:
            if (!wl_cli_store_option(&so, c, argv))
                return so.exit_status;
        }
    }
    if (optind < argc)
        return wl_cli_usage_error(cmd, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_FILTERS));
    if (flt.has_since && flt.has_until && flt.since_ms >= flt.until_ms)
        return wl_cli_usage_error(cmd, "--since must be earlier than --until");

    wl_store *s = NULL;
    int rc = wl_cli_store_open(cmd, so.db, WL_CLI_STORE_READ, &s);
    if (rc != WL_EXIT_OK)
        return rc;
    struct wl_run_list l;
    if (wl_store_list_runs(s, &flt, sort, limit, offset, &l) != 0) {
        rc = wl_cli_fail(cmd, "%s", wl_store_last_error(s));
        wl_store_close(s);
        return rc;
    }
    if (so.json) {
        json_t *o = json_object();
        json_t *arr = json_array();
        for (size_t i = 0; i < l.n; i++)
            json_array_append_new(arr, row_json(&l.rows[i]));
        json_object_set_new(o, "runs", arr);
        json_object_set_new(o, "total", json_integer(l.total));
        json_object_set_new(o, "limit", json_integer(limit));
        json_object_set_new(o, "offset", json_integer(offset));
        rc = wl_cli_print_json(o);
    } else {
        /* nothing matched the filters: how many runs there are says whether
         * to loosen them or to record one */
        int64_t n_all = l.total;
        if (l.total == 0 && filter_is_set(&flt) && wl_store_count_runs(s, NULL, &n_all) != 0)
            n_all = -1;
        print_table(&l, offset, n_all);
    }
    wl_run_list_free(&l);
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_runs = {"runs", "list stored runs (filter, sort, page)",
                                               run};
