/* Sampling options shared by `generate` and `run` (and any command that
 * samples tokens): one option table, one parser, one help block, so the flags,
 * their ranges and their documentation cannot drift apart.
 */
#ifndef WL_CLI_SAMPLING_H
#define WL_CLI_SAMPLING_H

#include "engine/sampling.h"

/* getopt_long codes of the sampling options (kept clear of other commands' codes). */
enum {
    WL_CLI_OPT_TEMP = 0x300,
    WL_CLI_OPT_TOPK,
    WL_CLI_OPT_TOPP,
    WL_CLI_OPT_MINP,
    WL_CLI_OPT_REP,
    WL_CLI_OPT_SEED,
};

/* Entries for a struct option table. */
#define WL_CLI_SAMPLING_OPTIONS                                                                    \
    {"temp", required_argument, NULL, WL_CLI_OPT_TEMP},                                            \
        {"top-k", required_argument, NULL, WL_CLI_OPT_TOPK},                                       \
        {"top-p", required_argument, NULL, WL_CLI_OPT_TOPP},                                       \
        {"min-p", required_argument, NULL, WL_CLI_OPT_MINP},                                       \
        {"repeat-penalty", required_argument, NULL, WL_CLI_OPT_REP},                               \
    {                                                                                              \
        "seed", required_argument, NULL, WL_CLI_OPT_SEED                                           \
    }

/* Lines for a command's --help. */
#define WL_CLI_SAMPLING_HELP                                                                       \
    "      --temp T            temperature; 0 = greedy (default 0.8)\n"                            \
    "      --top-k K           keep the K most likely tokens; 0 = all (default 40)\n"              \
    "      --top-p P           nucleus sampling threshold; 1 = off (default 0.95)\n"               \
    "      --min-p P           drop tokens below P x the top probability; 0 = off\n"               \
    "                          (default 0.05)\n"                                                   \
    "      --repeat-penalty R  penalty for the last 64 tokens; 1 = off (default 1)\n"              \
    "      --seed S            random seed (default 0); same seed, same text\n"

/* Applies getopt code opt with argument arg to sp. Returns 1 when opt was a
 * sampling option and was applied, 0 when it is not a sampling option, and -1
 * after printing a usage error for a bad value. */
int wl_cli_sampling_option(const char *cmd, int opt, const char *arg,
                           struct wl_token_sampler_params *sp);

#endif
