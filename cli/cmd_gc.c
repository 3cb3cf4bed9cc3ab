/* `wattlens gc`: retention for the run database (keep the N newest runs
 * and/or drop runs older than D days), with a dry run, then VACUUM. Dates
 * are UTC, as in `runs` and `show`; the JSON lists each removed run with the
 * identity fields of `runs --json` (analysis/run_json.h). */
#include "cli.h"
#include "cli_store.h"
#include "cli_text.h"

#include "analysis/run_json.h"
#include "util/json_text.h"

#include <stdio.h>
#include <string.h>

static const char *const cmd = "gc";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens gc [OPTIONS]\n"
            "\n"
            "Remove old runs from the run database, then compact the file (VACUUM).\n"
            "A run goes when it is beyond the --keep newest OR older than --max-age;\n"
            "runs still being recorded are never removed (a run whose writer is gone is\n"
            "`incomplete`, not still being recorded). Give at least one limit.\n"
            "Each removed run is listed with its creation time in UTC.\n"
            "\n"
            "Runs are removed one at a time, so a run being recorded meanwhile keeps\n"
            "saving. Compacting rewrites the whole file and blocks every writer while it\n"
            "runs (about 0.7 s per 100 MB; a `run` waits up to 60 s to save, so compact a\n"
            "store of several GB when nothing records); its temporary copy, as large as\n"
            "the database, goes to SQLITE_TMPDIR, else TMPDIR, else /var/tmp or /tmp.\n"
            "When no run goes, the file is left as it is. A failed compaction is a\n"
            "warning: the runs are removed all the same.\n"
            "\n"
            "Options:\n"
            "  --keep N             keep the N newest runs\n"
            "  --max-age DAYS       remove runs created more than DAYS days ago (fractions\n"
            "                       allowed: 0.5 = 12 hours)\n"
            "  --dry-run            list what would be removed; change nothing (the file\n"
            "                       is opened read-only, so a database this user cannot\n"
            "                       write is read too)\n"
            "  --json               the result as JSON: {\"removed\": [ids], \"removed_runs\":\n"
            "                       [{\"id\", \"created_at\", ...}], \"dry_run\", \"compaction\":\n"
            "                       \"done\"|\"skipped\"|\"log_kept\"|\"failed\", "
            "\"compact_error\", ...}\n" WL_CLI_STORE_HELP "\n"
            "Examples:\n"
            "  wattlens gc --keep 100 --dry-run\n"
            "  wattlens gc --max-age 30\n"
            "  wattlens gc --keep 500 --max-age 90\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"keep", required_argument, NULL, 'k'},
        {"max-age", required_argument, NULL, 'a'},
        {"dry-run", no_argument, NULL, 'n'},
        WL_CLI_JSON_OPTION,
        WL_CLI_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct wl_gc_params p = {.keep = -1, .max_age_days = -1};
    long keep;
    struct wl_cli_store_opts so;
    wl_cli_store_opts_init(&so, cmd, usage, opts);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (!wl_cli_parse_long(cmd, "--keep", optarg, 0, 1000000000L, &keep))
                return WL_EXIT_USAGE;
            p.keep = keep;
            break;
        case 'a':
            if (!wl_cli_parse_double(cmd, "--max-age", optarg, 0, 1e6, &p.max_age_days))
                return WL_EXIT_USAGE;
            break;
        case 'n':
            p.dry_run = true;
            break;
        default:
            if (!wl_cli_store_option(&so, c, argv))
                return so.exit_status;
        }
    }
    if (optind < argc)
        return wl_cli_usage_error(cmd, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_LIMITS));
    if (p.keep < 0 && p.max_age_days < 0)
        return wl_cli_usage_error(cmd, "give --keep N and/or --max-age DAYS");
    wl_store *s = NULL;
    /* a dry run only reads, always read-only: it writes nothing (no dead
     * run marked incomplete; the prediction reads them as incomplete anyway)
     * and reads a file or directory this user cannot write */
    int rc =
        wl_cli_store_open(cmd, so.db, p.dry_run ? WL_CLI_STORE_READ_ONLY : WL_CLI_STORE_MODIFY, &s);
    if (rc != WL_EXIT_OK)
        return rc;
    struct wl_gc_result res;
    const int gc_rc = wl_store_gc(s, &p, &res);
    if (gc_rc != 0 && res.removed.n == 0) {
        rc = wl_cli_fail(cmd, "%s", wl_store_last_error(s));
        wl_gc_result_free(&res);
        wl_store_close(s);
        return rc;
    }
    /* the runs alone: the store's stats count every row of every table,
     * a full scan of a large store's metric tables */
    int64_t n_runs = 0;
    const bool have_stats = wl_store_count_runs(s, NULL, &n_runs) == 0;
    /* a dry run removed nothing: what would be left */
    const int64_t runs_left = p.dry_run ? n_runs - (int64_t)res.removed.n : n_runs;
    static const char *const compaction_key[] = {
        [WL_GC_NOT_COMPACTED] = "skipped",
        [WL_GC_COMPACTED] = "done",
        [WL_GC_COMPACTED_LOG_KEPT] = "log_kept",
        [WL_GC_COMPACT_FAILED] = "failed",
    };
    if (so.json) {
        json_t *o = json_object();
        json_t *ids = json_array(), *runs = json_array();
        for (size_t i = 0; i < res.removed.n; i++) {
            const char *id = res.removed.rows[i].id;
            json_array_append_new(ids, wl_json_text(id, strlen(id), NULL));
            json_array_append_new(runs, wl_run_json_identity(&res.removed.rows[i]));
        }
        json_object_set_new(o, "removed", ids);
        /* each run as `runs --json` shows it (created_at in ISO 8601 UTC) */
        json_object_set_new(o, "removed_runs", runs);
        json_object_set_new(o, "dry_run", json_boolean(p.dry_run));
        json_object_set_new(o, "bytes_before", json_integer(res.bytes_before));
        json_object_set_new(o, "bytes_after", json_integer(res.bytes_after));
        json_object_set_new(o, "compaction", json_string(compaction_key[res.compaction]));
        json_object_set_new(o, "compact_error",
                            res.compaction == WL_GC_COMPACT_FAILED
                                ? wl_json_text(res.compact_error, strlen(res.compact_error), NULL)
                                : json_null());
        if (have_stats)
            json_object_set_new(o, "runs_left", json_integer(runs_left));
        rc = wl_cli_print_json(o);
    } else {
        for (size_t i = 0; i < res.removed.n; i++) {
            const struct wl_run_row *r = &res.removed.rows[i];
            char date[32], id[6 * sizeof r->id];
            /* the id, model and command come from the database: escaped */
            printf("%s %s  %s UTC  ", p.dry_run ? "would remove" : "removed",
                   wl_cli_text(r->id, id, sizeof id),
                   wl_cli_format_date(r->created_at_ms, date, sizeof date));
            if (r->model_name)
                wl_cli_put_textn(stdout, r->model_name, r->model_name_len);
            else if (r->command)
                wl_cli_put_textn(stdout, r->command, r->command_len);
            putchar('\n');
        }
        printf("%s%zu run%s%s", p.dry_run ? "dry run: " : "", res.removed.n,
               res.removed.n == 1 ? "" : "s", p.dry_run ? " would be removed" : " removed");
        const double mb_before = (double)res.bytes_before / 1e6;
        const double mb_after = (double)res.bytes_after / 1e6;
        if (!p.dry_run && res.compaction == WL_GC_NOT_COMPACTED)
            printf("; file not compacted (%.1f MB)", mb_after);
        else if (res.compaction == WL_GC_COMPACTED)
            printf("; file %.1f MB -> %.1f MB", mb_before, mb_after);
        else if (res.compaction == WL_GC_COMPACTED_LOG_KEPT)
            printf("; file %.1f MB -> %.1f MB, not compacted yet: a reader kept the "
                   "write-ahead log, which holds the compacted copy until a later checkpoint "
                   "finds no reader",
                   mb_before, mb_after);
        else if (res.compaction == WL_GC_COMPACT_FAILED)
            printf("; compacting the file failed (%.1f MB)", mb_after);
        if (have_stats)
            printf("; %lld run%s %s", (long long)runs_left, runs_left == 1 ? "" : "s",
                   p.dry_run ? "would be kept" : "kept");
        printf("\n");
    }
    if (res.compaction == WL_GC_COMPACT_FAILED)
        wl_cli_note(cmd, "warning: the runs were removed, but compacting the file failed: %s",
                    res.compact_error);
    if (gc_rc != 0) /* it stopped after removing the runs listed */
        rc = wl_cli_fail(cmd, "stopped after removing %zu run%s: %s", res.removed.n,
                         res.removed.n == 1 ? "" : "s", wl_store_last_error(s));
    wl_gc_result_free(&res);
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_gc = {"gc", "remove old runs (retention) and compact", run};
