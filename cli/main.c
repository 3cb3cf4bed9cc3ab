/* wattlens CLI entry point: global options, then dispatch to a subcommand,
 * then the check that the command's output was written (stdout is closed
 * here, for every command). The command table is generated from
 * cli/cmd_*.c by the build (see cli.h). */
#include "cli.h"

#include "util/log.h"
#include "wattlens/wattlens.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            "  -v, --verbose        more diagnostics on stderr (repeat for debug: -vv); never\n"
            "                       fewer than WATTLENS_LOG asks for\n"
            "  -q, --quiet          only errors on stderr (no summaries, notes or progress);\n"
            "                       wins over -v, a command's -v and WATTLENS_LOG\n"
            "  --                   ends the global options (short ones group: -vv, -qv)\n"
            "\n"
            "Environment:\n"
            "  WATTLENS_LOG         log level: error, warn (default), info, debug, trace\n"
            "                       (another value is warned about and means warn)\n"
            "\n"
            "Data goes to stdout, diagnostics to stderr. Commands that print data accept --json\n"
            "(export: --format json), except generate, which prints only the generated text.\n"
            "Exit status: 0 success, 1 failure (also when the output cannot be written;\n"
            "quietly when the reader went away, as with '| head'), 2 bad command line,\n"
            "130 stopped by Ctrl-C (generate); run and measure stopped by SIGINT, SIGTERM\n"
            "or SIGHUP (signal N): 128+N. measure otherwise exits with its command's own\n"
            "status (128+N when signal N killed it, 126 or 127 when it could not be run).\n");
}

static const struct wl_cli_command *find_command(const char *name)
{
    for (size_t i = 0; wl_cli_commands[i]; i++) {
        if (strcmp(wl_cli_commands[i]->name, name) == 0)
            return wl_cli_commands[i];
    }
    return NULL;
}

/* A command whose first argument is a subcommand (model info|synth|quantize):
 * `help COMMAND SUB` is `COMMAND SUB --help`, as `help COMMAND` is
 * `COMMAND --help`; the command itself refuses a SUB it does not know. */
static bool has_subcommands(const struct wl_cli_command *c)
{
    return c == &wl_cli_cmd_model;
}

/* "wattlens: unknown command 'NAME'" (escaped: it is the user's text) and
 * where to look; WL_EXIT_USAGE. */
static int unknown_command(const char *name)
{
    return wl_cli_usage_error(NULL, "unknown command '%s'", name);
}

/* SIGPIPE: a reader that went away (`wattlens runs | head`, `generate |
 * head -c1`) makes a write fail with EPIPE instead of killing wattlens, so
 * every command ends the way a failed write ends it: exit status 1 (quietly
 * for EPIPE, see wl_cli_output_error), its run stored and its files closed.
 * A handler that does nothing rather than SIG_IGN: exec resets a caught
 * signal to its default action but keeps an ignored one ignored, so the
 * programs wattlens runs (measure's command, powermetrics) get SIGPIPE as
 * wattlens got it (default, or ignored by its caller), as from a shell. */
static void on_sigpipe(int sig)
{
    (void)sig;
}

static void catch_sigpipe(void)
{
    struct sigaction sa;
    /* ignored by whoever started wattlens: writes already fail with EPIPE,
     * and the commands it runs inherit that, as they would from it */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
        sa.sa_handler == SIG_IGN)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigpipe;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Parses the global options and runs the command; *name is set to the
 * command that ran (NULL for wattlens itself), for messages. */
static int dispatch(int argc, char **argv, const char **name)
{
    int verbose = 0;
    bool quiet = false;
    int i = 1;
    *name = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { /* the end of the global options */
            i++;
            break;
        }
        /* a long name (as its letter), or one letter or a group of them,
         * as getopt takes them: -vvv, -qv */
        char letters[2] = {0};
        if (a[1] == '-') {
            char names[64];
            letters[0] = wl_cli_global_option_match(a, names, sizeof names);
            if (letters[0] == '?')
                return wl_cli_usage_error(NULL, "ambiguous global option '%s' (%s)", a, names);
            a = letters[0] ? letters : "";
        } else if (a[1] != '\0') {
            a++;
        } else {
            a = "";
        }
        bool known = *a != '\0';
        for (const char *l = a; *l; l++)
            known = known && wl_cli_global_option((char[]){'-', *l, '\0'}) != 0;
        char hint[4096];
        if (!known && wl_cli_command_option_hint(argc, argv, i, hint, sizeof hint))
            return wl_cli_usage_error(NULL, "unknown global option '%s' (%s)", argv[i], hint);
        if (!known)
            return wl_cli_usage_error(NULL, "unknown global option '%s'", argv[i]);
        for (const char *l = a; *l; l++) {
            if (*l == 'h') {
                wl_cli_print_help(print_help);
                return WL_EXIT_OK;
            } else if (*l == 'V') {
                printf("wattlens %s\n", wl_version());
                return WL_EXIT_OK;
            } else if (*l == 'v') {
                verbose++;
            } else {
                quiet = true;
            }
        }
    }
    /* -q wins over any -v, before or after it, over a command's own -v
     * (bench) and over WATTLENS_LOG: it promises only errors on stderr */
    if (quiet) {
        wl_log_set_level(WL_LOG_ERROR);
    } else {
        /* reads WATTLENS_LOG now: a bad value is warned about once */
        const enum wl_log_level env = wl_log_get_level();
        /* -v and -vv only ever add diagnostics: WATTLENS_LOG=debug -v stays debug */
        const enum wl_log_level want = verbose >= 2 ? WL_LOG_DEBUG : WL_LOG_INFO;
        if (verbose > 0 && want > env)
            wl_log_set_level(want);
    }

    if (i >= argc) {
        print_help(stderr);
        return WL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 >= argc) {
            wl_cli_print_help(print_help);
            return WL_EXIT_OK;
        }
        /* as `wattlens COMMAND --help`: an unknown command, or more words,
         * are mistakes as they would be there, not a request for all help;
         * `help --help`, `help -h` and `help help` are this help */
        const char *what = argv[i + 1];
        const bool self =
            strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0 || strcmp(what, "help") == 0;
        const struct wl_cli_command *c = self ? NULL : find_command(what);
        if (!self && !c)
            return unknown_command(what);
        const bool sub = c && has_subcommands(c) && i + 2 < argc;
        if (i + 2 + sub < argc) {
            return wl_cli_usage_error(NULL, "help takes one command%s: unexpected argument '%s'",
                                      sub ? " and its subcommand" : "", argv[i + 2 + sub]);
        }
        if (self) {
            wl_cli_print_help(print_help);
            return WL_EXIT_OK;
        }
        *name = c->name;
        if (sub) {
            char *hargv[] = {argv[i + 1], argv[i + 2], "--help", NULL};
            return c->run(3, hargv);
        }
        char *hargv[] = {argv[i + 1], "--help", NULL};
        return c->run(2, hargv);
    }
    const struct wl_cli_command *cmd = find_command(argv[i]);
    if (!cmd)
        return unknown_command(argv[i]);
    *name = cmd->name;
    return cmd->run(argc - i, argv + i);
}

int main(int argc, char **argv)
{
    wl_cli_reserve_std_fds();
    catch_sigpipe();
    const char *name = NULL;
    int status = dispatch(argc, argv, &name);
    /* every command's output is checked here, once: a full disk or a
     * closed stdout is an error, never a silent success */
    return wl_cli_close_stdout(name, status);
}
