/* wattlens CLI entry point: global options, then dispatch to a subcommand.
 * The command table is generated from cli/cmd_*.c by the build (see cli.h). */
#include "cli.h"

#include "util/log.h"
#include "wattlens/wattlens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_CLI_COMMAND(n) extern const struct wl_cli_command wl_cli_cmd_##n;
#include "cli_commands.inc"
#undef WL_CLI_COMMAND

static const struct wl_cli_command *const wl_cli_commands[] = {
#define WL_CLI_COMMAND(n) &wl_cli_cmd_##n,
#include "cli_commands.inc"
#undef WL_CLI_COMMAND
    NULL,
};

static void print_help(FILE *out)
{
    fprintf(out,
            "wattlens %s - where do the joules and milliseconds of each token go?\n"
            "\n"
            "Usage: wattlens [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Commands:\n",
            wl_version());
    for (size_t i = 0; wl_cli_commands[i]; i++)
        fprintf(out, "  %-12s %s\n", wl_cli_commands[i]->name, wl_cli_commands[i]->summary);
    fprintf(out,
            "\n"
            "Global options:\n"
            "  -h, --help           show this help; 'wattlens COMMAND --help' for a command\n"
            "  -V, --version        print the version\n"
            "  -v, --verbose        more diagnostics on stderr (repeat for debug)\n"
            "  -q, --quiet          only errors on stderr\n"
            "\n"
            "Environment:\n"
            "  WATTLENS_LOG         log level: error, warn (default), info, debug, trace\n"
            "\n"
            "Data goes to stdout, diagnostics to stderr. Commands that print data accept --json.\n");
}

static const struct wl_cli_command *find_command(const char *name)
{
    for (size_t i = 0; wl_cli_commands[i]; i++) {
        if (strcmp(wl_cli_commands[i]->name, name) == 0)
            return wl_cli_commands[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int verbose = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(stdout);
            return WL_EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("wattlens %s\n", wl_version());
            return WL_EXIT_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            verbose += 2;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            verbose = -1;
        } else {
            fprintf(stderr, "wattlens: unknown global option '%s'\nTry 'wattlens --help'.\n", a);
            return WL_EXIT_USAGE;
        }
    }
    if (verbose < 0)
        wl_log_set_level(WL_LOG_ERROR);
    else if (verbose == 1)
        wl_log_set_level(WL_LOG_INFO);
    else if (verbose >= 2)
        wl_log_set_level(WL_LOG_DEBUG);

    if (i >= argc) {
        print_help(stderr);
        return WL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 < argc) {
            const struct wl_cli_command *c = find_command(argv[i + 1]);
            if (c) {
                char *hargv[] = {argv[i + 1], "--help", NULL};
                return c->run(2, hargv);
            }
        }
        print_help(stdout);
        return WL_EXIT_OK;
    }
    const struct wl_cli_command *cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "wattlens: unknown command '%s'\nTry 'wattlens --help'.\n", argv[i]);
        return WL_EXIT_USAGE;
    }
    return cmd->run(argc - i, argv + i);
}
