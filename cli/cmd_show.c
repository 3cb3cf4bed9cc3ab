/* `wattlens show ID`: one stored run's summary (phases, efficiency, energy
 * per hardware domain, layers, components, the hottest components), as
 * tables or as JSON. Everything is computed from the store alone.
 */
#include "cli.h"
#include "cli_store.h"
#include "cli_summary.h"
#include "cli_text.h"

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
            "per-layer and per-component averages (per decode step, and per input token\n"
            "for the prompt) and the ten hottest components. Decode figures count decode\n"
            "steps: the first output token is sampled from the prefill's logits.\n"
            "ID is a run id or a unique prefix of at least 4 characters (see 'wattlens runs').\n"
            "\n"
            "Options:\n"
            "  --json               the summary as one JSON object\n"
            "  --layers N           show at most N layers in the layer table (default 48;\n"
            "                       0 = all)\n" WL_CLI_STORE_HELP "\n"
            "Examples:\n"
            "  wattlens show 3f2a\n"
            "  wattlens show --json 3f2a9c1e-0b6d-4c1f-9a57-2d1e8b7c6a50\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"layers", required_argument, NULL, 'L'},
        WL_CLI_JSON_OPTION,
        WL_CLI_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    long max_layers = 48;
    struct wl_cli_store_opts so;
    wl_cli_store_opts_init(&so, cmd, usage, opts);
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'L':
            if (!wl_cli_parse_long(cmd, "--layers", optarg, 0, 1000000, &max_layers))
                return WL_EXIT_USAGE;
            break;
        default:
            if (!wl_cli_store_option(&so, c, argv))
                return so.exit_status;
        }
    }
    if (optind != argc - 1)
        return wl_cli_usage_error(cmd, optind >= argc ? "missing run ID"
                                                      : "expected exactly one run ID");
    if (wl_cli_check_run_id(cmd, argv[optind]) != WL_EXIT_OK)
        return WL_EXIT_USAGE;
    wl_store *s = NULL;
    int rc = wl_cli_store_open(cmd, so.db, WL_CLI_STORE_READ, &s);
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
    if (so.json) {
        rc = wl_cli_print_json(wl_summary_to_json(&a, &sum));
    } else {
        wl_cli_print_summary(&a, &sum, max_layers);
        char id8[9], shown[64];
        snprintf(id8, sizeof id8, "%.8s", id); /* as the database has it: escaped */
        printf("\nExport everything: wattlens export %s --format json|csv\n",
               wl_cli_text(id8, shown, sizeof shown));
        rc = wl_cli_flush_stdout(cmd);
    }
    wl_summary_free(&sum);
    wl_store_aggregates_free(&a);
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_show = {"show", "summarise one stored run", run};
