/* `wattlens export ID --format json|csv [-o FILE]`: one stored run with its
 * whole hierarchy. The output is cli_output's: a regular FILE is replaced
 * atomically, so a failed export never leaves a half-written FILE. */
#include "cli.h"
#include "cli_output.h"
#include "cli_store.h"

#include "export/run_export.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const cmd = "export";

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: wattlens export [OPTIONS] ID --format json|csv\n"
        "\n"
        "Write one stored run with everything recorded under it.\n"
        "  json  one object: {\"format\": \"wattlens-run\", \"version\": 1, \"run\": {...}}; the\n"
        "        run holds its metadata, domains, samples, sections, summary and tokens,\n"
        "        each token its layers, each layer its components, each component its ops\n"
        "  csv   one table after another, each introduced by a '# name' line and its\n"
        "        header line (even with no rows): metadata (field,value), domains,\n"
        "        power_samples, sections, tokens, layer_metrics, component_metrics, op_metrics\n"
        "Layers, components and ops are stored per forward pass, under one token: a\n"
        "decode step's under its output token, a whole prompt batch's (up to the run's\n"
        "batch_size input tokens) under the batch's last input token, whose own energy is\n"
        "only its share of the batch. So each token has layers_first_token and\n"
        "layers_last_token: the tokens whose energies together hold its layers (its\n"
        "batch's input tokens, or itself; empty/null when it has none). The first output\n"
        "token is sampled from the prefill's logits and has none.\n"
        "A row whose energy is a share of another figure (an input token's of its prompt\n"
        "batch, a layer's, component's or op's of its forward pass) has energy_method\n"
        "'attributed' and energy_base_method, the method of the figure it shares (the\n"
        "run's: model_estimate when no CPU energy sensor was readable, even beside a\n"
        "readable GPU sensor); null/empty on other rows.\n"
        "The run is read in one snapshot: one still being recorded is written as it was\n"
        "when the export began. Unknown values are null (JSON) or empty cells (CSV), the\n"
        "0 ms and 0 J of a run that recorded nothing too; numbers have 15 significant\n"
        "digits. On a terminal the CSV's stored text is escaped as 'show' escapes it.\n"
        "ID is a run id or a unique prefix of at least 4 characters.\n"
        "\n"
        "Options:\n"
        "  -f, --format FMT     json or csv (required)\n"
        "  -o, --output FILE    write to FILE instead of stdout ('-': stdout); a regular\n"
        "                       FILE is replaced once the export is complete\n" WL_CLI_STORE_HELP
        "\n"
        "Examples:\n"
        "  wattlens export 3f2a --format json > run.json\n"
        "  wattlens export 3f2a --format csv -o run.csv\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        WL_CLI_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *format = NULL, *output = NULL;
    struct wl_cli_store_opts so;
    wl_cli_store_opts_init(&so, cmd, usage, opts);
    int c;
    while ((c = getopt_long(argc, argv, ":hf:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            if (!wl_cli_store_option(&so, c, argv))
                return so.exit_status;
        }
    }
    if (optind != argc - 1)
        return wl_cli_usage_error(cmd, optind >= argc ? "missing run ID"
                                                      : "expected exactly one run ID");
    if (!format)
        return wl_cli_usage_error(cmd, "missing --format json|csv");
    bool csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "json") != 0)
        return wl_cli_usage_error(cmd, "invalid value '%s' for --format (expected json or csv)",
                                  format);
    if (wl_cli_check_run_id(cmd, argv[optind]) != WL_EXIT_OK)
        return WL_EXIT_USAGE;
    wl_store *s = NULL;
    int rc = wl_cli_store_open(cmd, so.db, WL_CLI_STORE_READ, &s);
    if (rc != WL_EXIT_OK)
        return rc;
    char id[37];
    if (!wl_cli_resolve_run(cmd, s, argv[optind], id)) {
        wl_store_close(s);
        return WL_EXIT_FAIL;
    }
    struct wl_cli_output o;
    rc = wl_cli_output_open(&o, cmd, output, wl_store_path(s));
    FILE *out = rc == WL_EXIT_OK ? wl_cli_output_stream(&o) : NULL;
    if (!out) {
        wl_cli_output_close(&o, false, 0);
        wl_store_close(s);
        return rc == WL_EXIT_OK ? WL_EXIT_FAIL : rc;
    }
    struct wl_errmsg e = {{0}};
    /* on a terminal, the CSV's stored text is escaped as show's is, and the
     * JSON's C1 and bidirectional controls are \uNNNN (jansson escapes C0) */
    const unsigned flags =
        isatty(fileno(out)) == 1 ? WL_EXPORT_CSV_ESCAPE_TEXT | WL_EXPORT_JSON_ESCAPE_CONTROLS : 0;
    int erc =
        csv ? wl_export_run_csv(s, id, flags, out, &e) : wl_export_run_json(s, id, flags, out, &e);
    const int werr = erc != 0 ? errno : 0;
    const bool write_failed = ferror(out) != 0;
    /* a failed write is reported by wl_cli_output_close, with its cause */
    rc = wl_cli_output_close(&o, erc == 0, werr);
    if (erc != 0 && !write_failed)
        rc = wl_cli_fail(cmd, "export of run %s failed: %s", id,
                         e.text[0] ? e.text : "could not write the output");
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_export = {
    "export", "export one run with its hierarchy (JSON, CSV)", run};
