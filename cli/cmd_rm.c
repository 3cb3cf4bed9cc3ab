/* `wattlens rm ID...`: delete stored runs and everything under them; with
 * --json, which runs went and which arguments did not, as gc's "removed". */
#include "cli.h"
#include "cli_store.h"
#include "cli_text.h"

#include "util/json_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cmd = "rm";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens rm [OPTIONS] ID...\n"
            "\n"
            "Delete runs from the run database with everything recorded under them\n"
            "(power samples, sections, tokens, layer/component/op metrics). Each ID is a run\n"
            "id or a unique prefix of at least 4 characters; an ID that is not one (too\n"
            "short, or not lowercase hex and '-') is a usage error and nothing is deleted.\n"
            "Runs that cannot be found are reported and the others are still deleted (exit\n"
            "status 1 if any failed).\n"
            "An ID given twice, or two IDs of one run, remove it once.\n"
            "A run still being recorded (a live 'run' or 'measure') is not deleted\n"
            "unless --force is given.\n"
            "The file does not shrink until 'wattlens gc' compacts it.\n"
            "\n"
            "Options:\n"
            "  --force              delete runs still being recorded too (their wattlens\n"
            "                       then fails to save and says so)\n"
            "  --json               the result as JSON: {\"removed\": [full ids],\n"
            "                       \"not_removed\": [the ID arguments that failed]}\n"
            "                       (the reasons on stderr, as without --json)\n" WL_CLI_STORE_HELP
            "\n"
            "Examples:\n"
            "  wattlens rm 3f2a\n"
            "  wattlens rm 3f2a 91bc 0d4e\n"
            "  wattlens rm --json 3f2a 91bc\n");
}

/* {"removed": [...], "not_removed": [...]}; each a text array with a
 * "_hex" sibling when one is not UTF-8 (util/json_text.h). */
static int print_json(const char *const *removed, size_t n_removed, const char *const *failed,
                      size_t n_failed)
{
    json_t *o = json_object();
    if (o && (wl_json_set_texts(o, "removed", removed, NULL, n_removed) != 0 ||
              wl_json_set_texts(o, "not_removed", failed, NULL, n_failed) != 0)) {
        json_decref(o);
        o = NULL;
    }
    return wl_cli_print_json(o);
}

static int run(int argc, char **argv)
{
    enum { OPT_FORCE = 1000 };
    static const struct option opts[] = {
        {"force", no_argument, NULL, OPT_FORCE},
        WL_CLI_JSON_OPTION,
        WL_CLI_STORE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct wl_cli_store_opts so;
    wl_cli_store_opts_init(&so, cmd, usage, opts);
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == OPT_FORCE)
            force = true;
        else if (!wl_cli_store_option(&so, c, argv))
            return so.exit_status;
    }
    if (optind >= argc)
        return wl_cli_usage_error(cmd, "missing run ID");
    for (int i = optind; i < argc; i++) {
        if (wl_cli_check_run_id(cmd, argv[i]) != WL_EXIT_OK)
            return WL_EXIT_USAGE;
    }
    wl_store *s = NULL;
    int rc = wl_cli_store_open(cmd, so.db, WL_CLI_STORE_MODIFY, &s);
    if (rc != WL_EXIT_OK)
        return rc;
    /* every ID is resolved before any run goes, so that two names of one
     * run (the id twice, or the id and a prefix) remove it once */
    const size_t n_args = (size_t)(argc - optind);
    char(*ids)[37] = calloc(n_args, sizeof *ids);
    const char **arg_of = calloc(n_args, sizeof *arg_of); /* ids[k]'s first argument */
    const char **removed = calloc(n_args, sizeof *removed);
    const char **failed = calloc(n_args, sizeof *failed);
    if (!ids || !arg_of || !removed || !failed) {
        rc = wl_cli_fail(cmd, "out of memory");
        goto done;
    }
    size_t n = 0, n_removed = 0, n_failed = 0;
    for (int i = optind; i < argc; i++) {
        if (!wl_cli_resolve_run(cmd, s, argv[i], ids[n])) {
            rc = WL_EXIT_FAIL;
            failed[n_failed++] = argv[i];
            continue;
        }
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(ids[k], ids[n]) == 0;
        if (!seen)
            arg_of[n++] = argv[i];
    }
    for (size_t k = 0; k < n; k++) {
        if (wl_store_delete_run(s, ids[k], force) != 0) {
            rc = wl_cli_fail(cmd, "%s", wl_store_last_error(s));
            failed[n_failed++] = arg_of[k];
            continue;
        }
        removed[n_removed++] = ids[k];
        if (!so.json) {
            char shown[6 * sizeof ids[k]]; /* the id as the database has it, escaped */
            printf("removed %s\n", wl_cli_text(ids[k], shown, sizeof shown));
        }
    }
    if (so.json) {
        int jrc = print_json(removed, n_removed, failed, n_failed);
        if (jrc != WL_EXIT_OK)
            rc = jrc;
    }
done:
    free(failed);
    free(removed);
    free(arg_of);
    free(ids);
    wl_store_close(s);
    return rc;
}

const struct wl_cli_command wl_cli_cmd_rm = {"rm", "delete stored runs", run};
