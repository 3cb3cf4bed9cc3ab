/* Sampling options shared by the generating commands; see cli_sampling.h. */
#include "cli_sampling.h"

#include "cli.h"

int wl_cli_sampling_option(const char *cmd, int opt, const char *arg,
                           struct wl_token_sampler_params *sp)
{
    double d;
    long v;
    switch (opt) {
    case WL_CLI_OPT_TEMP:
        if (!wl_cli_parse_double(cmd, "--temp", arg, 0.0, 100.0, &d))
            return -1;
        sp->temperature = (float)d;
        return 1;
    case WL_CLI_OPT_TOPK:
        if (!wl_cli_parse_long(cmd, "--top-k", arg, 0, 1 << 24, &v))
            return -1;
        sp->top_k = (int32_t)v;
        return 1;
    case WL_CLI_OPT_TOPP:
        if (!wl_cli_parse_double(cmd, "--top-p", arg, 0.0, 1.0, &d))
            return -1;
        sp->top_p = (float)d;
        return 1;
    case WL_CLI_OPT_MINP:
        if (!wl_cli_parse_double(cmd, "--min-p", arg, 0.0, 1.0, &d))
            return -1;
        sp->min_p = (float)d;
        return 1;
    case WL_CLI_OPT_REP:
        if (!wl_cli_parse_double(cmd, "--repeat-penalty", arg, 0.01, 100.0, &d))
            return -1;
        sp->repeat_penalty = (float)d;
        return 1;
    case WL_CLI_OPT_SEED:
        if (!wl_cli_parse_long(cmd, "--seed", arg, 0, 0x7fffffffL, &v))
            return -1;
        sp->seed = (uint64_t)v;
        return 1;
    default:
        return 0;
    }
}
