/* `wattlens generate`: run a prompt through a GGUF model on the built-in
 * engine and stream only the generated text to stdout; diagnostics and speed
 * go to stderr. SIGINT stops generation cleanly (the text so far is kept).
 * The work is engine/generate.c; this file parses options and prints.
 */
#include "cli.h"
#include "cli_context.h"
#include "cli_sampling.h"

#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "util/clock.h"
#include "util/signals.h"
#include "wattlens/error.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *CMD = "generate";

static volatile sig_atomic_t g_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    g_cancel = 1;
}

/* Catches SIGINT for the generation; *old is the disposition to restore.
 * False (nothing installed) when SIGINT was ignored on entry (nohup, a
 * background job of a script): it stays ignored, as `measure` leaves it.
 * SA_RESTART: a write blocked on a full pipe (`| less`, which ignores the
 * Ctrl-C) or a stopped terminal goes on once it can, instead of failing with
 * EINTR; the generation then stops at its next check of g_cancel. */
static bool sigint_catch(struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_cancel = 0;
    return wl_signal_catch_unless_ignored(SIGINT, &sa, old);
}

static void sigint_restore(bool caught, const struct sigaction *old)
{
    if (caught)
        sigaction(SIGINT, old, NULL);
}

/* True when a failed write to stdout (errnum: its errno) was cut short by
 * the Ctrl-C that cancels the generation: EINTR once g_cancel is set. That
 * stop was asked for, so it is not an output error; stdout's error flag is
 * cleared. Rare: under SA_RESTART the kernel restarts a write blocked on a
 * pipe, terminal or file, and one that wrote part returns a short count
 * (stdio writes the rest). signal(7) leaves EINTR for a write that is not
 * restarted whatever SA_RESTART says: stdout a socket with a send timeout
 * (SO_SNDTIMEO, set by whoever passed it: a service manager, inetd). No
 * test reaches it (none sets up such a socket); kept so that case reads as
 * a cancel, not "writing the output: Interrupted system call". */
static bool write_cancelled(int errnum)
{
    if (errnum != EINTR || !g_cancel)
        return false;
    clearerr(stdout);
    return true;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens generate -m FILE [-p TEXT] [-n N] [-t THREADS] [--temp T]\n"
            "                         [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
            "                         [--seed S] [-c N] [--cache-type f16|f32] [--batch N]\n"
            "\n"
            "Generates text with the built-in CPU engine. Only the generated text goes to\n"
            "stdout (not the prompt), streamed as it is produced; load time (the model\n"
            "mapped, its tokenizer built and the context allocated), token counts and\n"
            "speed go to stderr. A BOS token is added when the vocabulary asks for it; as\n"
            "in SentencePiece decoding, the leading space of the first piece after BOS is\n"
            "dropped. Generation stops at an end-of-generation token, after N tokens, when\n"
            "the context is full, or on Ctrl-C (exit status 130; during a long prompt's\n"
            "prefill too, within one forward batch: 64 tokens, or N with --batch N above\n"
            "64; while stdout is blocked, once the blocked text is written; not when\n"
            "SIGINT was ignored on entry, as for a background job of a script). When the\n"
            "text cannot be written (a full disk, a closed stdout) it stops with an error\n"
            "and exit status 1. With 'wattlens -q generate' stderr gets errors only.\n"
            "\n"
            "Options:\n"
            "  -m, --model FILE        GGUF model (required)\n"
            "  -p, --prompt TEXT       prompt (default: empty, start from BOS, which needs a\n"
            "                          vocabulary that adds BOS: GPT-2 and Qwen2 ones do\n"
            "                          not); control tokens written in it (<s>, </s>,\n"
            "                          <|endoftext|>) are those tokens, as with\n"
            "                          'tokenize --special'\n"
            "  -n, --n-predict N       tokens to generate (default 128)\n"
            "  -t, --threads N         threads (default: the CPUs wattlens may run on)\n"
            "  -c, --ctx-size N        context positions (default: the prompt's tokens + N,\n"
            "                          at most the model's training context; a larger -c\n"
            "                          is run, with a warning). Without -c, phi3 LongRoPE\n"
            "                          uses the factors of the training context, so the text\n"
            "                          does not depend on -n; with -c a note says when the\n"
            "                          long factors are used\n" WL_CLI_SAMPLING_HELP
            "      --cache-type T      KV cache type f16 (default) or f32\n"
            "      --batch N           generate N sequences together (default 1): one prefill\n"
            "                          for all prompts, then one decode step per round for\n"
            "                          every running sequence (weights read once per step);\n"
            "                          each stops on its own. Give -p up to N times (sequence\n"
            "                          i uses prompt i mod the number given); sequence i\n"
            "                          samples with seed S + i. Texts are printed when all\n"
            "                          are done, each under a '--- sequence i' line;\n"
            "                          throughput is for the whole batch. -c is per sequence\n"
            "  -h, --help              show this help\n"
            "\n"
            "Examples:\n"
            "  wattlens generate -m stories260K.gguf --temp 0 -n 200\n"
            "  wattlens generate -m model.gguf -p \"The capital of France is\" -n 32 -t 2\n"
            "  wattlens generate -m model.gguf -p \"Once upon a time\" --temp 0.7 --seed 42\n"
            "  wattlens generate -m model.gguf --batch 4 -p \"Once\" -p \"The sky\" --temp 0\n");
}

/* The streamed text's destination: once a write fails, generation is
 * stopped (through the cancel flag) since nobody can read the rest. */
struct text_out {
    bool failed;
    int errnum; /* errno of the failed write */
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct text_out *o = ud;
    if (o->failed)
        return;
    errno = 0;
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        if (write_cancelled(errno))
            return;
        o->failed = true;
        o->errnum = errno;
        g_cancel = 1;
    }
}

/* What a full context of n_ctx positions leaves the user: a larger -c,
 * which runs past what the model was trained for once n_ctx reaches its
 * training context n_train (without -c the context stops there). */
static void context_full_hint(int32_t n_ctx, int32_t n_train)
{
    const char *s = n_ctx == 1 ? "" : "s";
    if (n_ctx < n_train)
        fprintf(stderr,
                "  the context (%d position%s) is full; use -c to make it larger (the model's "
                "training context is %d positions)\n",
                (int)n_ctx, s, (int)n_train);
    else if (n_ctx == n_train)
        fprintf(stderr,
                "  the context (%d position%s) is full: it is the model's whole training "
                "context; a larger -c runs past what the model was trained for\n",
                (int)n_ctx, s);
    else
        fprintf(stderr,
                "  the context (%d position%s) is full; it is past the model's training "
                "context (%d position%s) already: a larger -c runs further past it\n",
                (int)n_ctx, s, (int)n_train, n_train == 1 ? "" : "s");
}

/* --batch N: every sequence's text after the run, then whole-batch figures. */
static int run_batch(wl_context *ctx, const wl_tokenizer *tok, const struct wl_generate_params *gp,
                     const char *const *prompts, int n_prompts, int32_t n, double load_ms)
{
    const char *all[WL_CONTEXT_MAX_SEQ];
    for (int32_t i = 0; i < n; i++)
        all[i] = n_prompts > 0 ? prompts[i % n_prompts] : "";
    struct wl_generate_result res[WL_CONTEXT_MAX_SEQ];
    struct wl_generate_batch_params bp = {.prompts = all, .n_seq = n};
    struct wl_generate_batch_stats st;
    struct wl_errmsg err = {{0}};
    int rc = wl_generate_batch(ctx, tok, gp, &bp, res, &st, &err);
    if (rc != 0)
        return wl_cli_fail(CMD, "%s", err.text);
    bool cancelled = false, failed = false;
    int werr = 0; /* errno of the first failed write: printing stops there */
    for (int32_t i = 0; i < n; i++) {
        if (!failed) {
            errno = 0;
            printf("--- sequence %d (%d prompt token%s, %d generated, stop: %s)\n", (int)i,
                   res[i].n_prompt, res[i].n_prompt == 1 ? "" : "s", res[i].n_generated,
                   wl_stop_reason_name(res[i].stop));
            fwrite(res[i].text, 1, res[i].text_len, stdout);
            printf("\n");
            failed = ferror(stdout) != 0;
            werr = errno;
        }
        cancelled |= res[i].stop == WL_STOP_CANCELLED;
        wl_generate_result_free(&res[i]);
    }
    if (!failed) {
        errno = 0;
        failed = fflush(stdout) != 0;
        werr = errno;
    }
    /* a write cut short by Ctrl-C while the texts are printed is a stop */
    if (failed && !write_cancelled(werr))
        return wl_cli_output_error(CMD, werr);
    /* a Ctrl-C after the generation (while its texts were printed) still
     * means the run was interrupted: exit status 130, as during it */
    cancelled |= g_cancel != 0;
    if (wl_cli_quiet())
        return cancelled ? 130 : WL_EXIT_OK;
    const double pf_s = (double)st.t_prefill_ns / 1e9, dec_s = (double)st.t_decode_ns / 1e9;
    /* decode rounds produce the tokens after each sequence's first one */
    const int32_t n_dec = st.n_generated > n ? st.n_generated - n : 0;
    if (cancelled && st.n_generated == 0) {
        fprintf(stderr,
                "\nwattlens generate: batch of %d: %d prompt tokens, 0 generated (stop: "
                "cancelled during the prefill, after %.1f ms); model loaded in %.1f ms\n",
                (int)n, st.n_prompt, pf_s * 1e3, load_ms);
        return 130;
    }
    char pf[96], dec[96];
    fprintf(stderr,
            "\nwattlens generate: batch of %d: %d prompt tokens, %d generated in %d decode "
            "round%s\n"
            "  load %.1f ms, %s, %s, %d thread%s\n",
            (int)n, st.n_prompt, st.n_generated, st.n_rounds, st.n_rounds == 1 ? "" : "s", load_ms,
            wl_cli_phase_text("prefill", pf_s, st.n_prompt, "", pf, sizeof pf),
            wl_cli_phase_text("decode", dec_s, n_dec, " for the batch", dec, sizeof dec),
            wl_context_n_threads(ctx), wl_context_n_threads(ctx) == 1 ? "" : "s");
    return cancelled ? 130 : WL_EXIT_OK;
}

static int run(int argc, char **argv)
{
    enum { O_CACHE = 256, O_BATCH };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"prompt", required_argument, NULL, 'p'},
        {"n-predict", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"ctx-size", required_argument, NULL, 'c'},
        WL_CLI_SAMPLING_OPTIONS,
        {"cache-type", required_argument, NULL, O_CACHE},
        {"batch", required_argument, NULL, O_BATCH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct wl_generate_params gp = wl_generate_default_params();
    struct wl_context_params cp = wl_context_default_params();
    const char *model = NULL;
    const char *prompts[WL_CONTEXT_MAX_SEQ];
    int n_prompts = 0;
    long n_batch = 1;
    long n_ctx = 0, v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:p:n:t:c:h", opts, NULL)) != -1) {
        int sr = wl_cli_sampling_option(CMD, c, optarg, &gp.sampling);
        if (sr < 0)
            return WL_EXIT_USAGE;
        if (sr > 0)
            continue;
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            if (n_prompts == WL_CONTEXT_MAX_SEQ)
                return wl_cli_usage_error(CMD, "at most %d prompts", WL_CONTEXT_MAX_SEQ);
            prompts[n_prompts++] = optarg;
            gp.prompt = optarg;
            break;
        case O_BATCH:
            if (!wl_cli_parse_long(CMD, "--batch", optarg, 1, WL_CONTEXT_MAX_SEQ, &n_batch))
                return WL_EXIT_USAGE;
            break;
        case 'n':
            if (!wl_cli_parse_long(CMD, "-n", optarg, 1, 1 << 24, &v))
                return WL_EXIT_USAGE;
            gp.n_predict = (int32_t)v;
            break;
        case 't':
            if (!wl_cli_parse_long(CMD, "-t", optarg, 1, 256, &v))
                return WL_EXIT_USAGE;
            cp.n_threads = (int32_t)v;
            break;
        case 'c':
            if (!wl_cli_parse_long(CMD, "-c", optarg, 1, 1 << 24, &n_ctx))
                return WL_EXIT_USAGE;
            break;
        case O_CACHE:
            if (!wl_cli_parse_cache_type(CMD, "--cache-type", optarg, &cp.kv_type))
                return WL_EXIT_USAGE;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error(CMD, c, argv, opts);
        }
    }
    if (optind < argc)
        return wl_cli_usage_error(CMD, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_PROMPT));
    if (!model)
        return wl_cli_usage_error(CMD, "a model is required (-m FILE)");
    if (wl_cli_model_name_empty(CMD, model))
        return WL_EXIT_USAGE;
    if (n_prompts > n_batch)
        return wl_cli_usage_error(CMD, "%d prompts for a batch of %ld (use --batch %d)", n_prompts,
                                  n_batch, n_prompts);
    if (n_prompts > 1 && n_batch == 1)
        return wl_cli_usage_error(CMD, "several -p need --batch");

    struct wl_errmsg err = {{0}};
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    wl_context *ctx = NULL;
    struct wl_generate_result res = {0};
    int status = WL_EXIT_FAIL;
    /* load time: the model file mapped and bound, and its tokenizer built */
    const uint64_t t_load0 = wl_clock_now_ns();
    int rc = wl_model_load(model, &m, &err);
    if (rc != 0) {
        wl_cli_fail(CMD, "%s", err.text); /* err names the file */
        goto done;
    }
    if ((rc = wl_tok_load_gguf(m->gguf, &tok, &err)) != 0) {
        wl_cli_fail(CMD, "%s: tokenizer: %s", model, err.text);
        goto done;
    }
    /* context: what this generation can use (cli_context.h); its creation
     * counts as load time, since a large -c costs seconds */
    cp.n_seq = (int32_t)n_batch;
    if (n_prompts == 0)
        prompts[n_prompts++] = ""; /* starts from BOS */
    if ((status = wl_cli_context_create(CMD, m, tok, &gp, prompts, n_prompts, n_ctx, &cp, &ctx)) !=
        WL_EXIT_OK)
        goto done;
    status = WL_EXIT_FAIL;
    const double load_ms = (double)(wl_clock_now_ns() - t_load0) / 1e6;
    struct sigaction old;
    const bool caught = sigint_catch(&old);
    struct text_out out = {0};
    gp.cancel = &g_cancel;
    gp.on_text = on_text;
    gp.user_data = &out;
    if (n_batch > 1) {
        status = run_batch(ctx, tok, &gp, prompts, n_prompts, (int32_t)n_batch, load_ms);
        sigint_restore(caught, &old);
        goto done;
    }
    rc = wl_generate(ctx, tok, &gp, &res, &err);
    sigint_restore(caught, &old);
    if (out.failed) {
        status = wl_cli_output_error(CMD, out.errnum);
        goto done;
    }
    if (rc != 0) {
        fflush(stdout);
        wl_cli_fail(CMD, "%s", err.text);
        goto done;
    }
    status = res.stop == WL_STOP_CANCELLED ? 130 : WL_EXIT_OK;
    if (wl_cli_quiet())
        goto done;
    const double pf_s = (double)res.t_prefill_ns / 1e9, dec_s = (double)res.t_decode_ns / 1e9;
    const int32_t n_dec = res.n_generated > 1 ? res.n_generated - 1 : 0;
    if (res.stop == WL_STOP_CANCELLED && res.n_generated == 0) {
        /* stopped in prefill: a rate over the whole prompt would be wrong */
        fprintf(stderr,
                "\nwattlens generate: %d prompt token%s, 0 generated (stop: cancelled during the "
                "prefill, after %.1f ms); model loaded in %.1f ms\n",
                res.n_prompt, res.n_prompt == 1 ? "" : "s", pf_s * 1e3, load_ms);
        goto done;
    }
    char pf[96], dec[96];
    fprintf(stderr,
            "\nwattlens generate: %d prompt token%s, %d generated (stop: %s)\n"
            "  load %.1f ms, %s, %s, first token after %.1f ms, %d thread%s\n",
            res.n_prompt, res.n_prompt == 1 ? "" : "s", res.n_generated,
            wl_stop_reason_name(res.stop), load_ms,
            wl_cli_phase_text("prefill", pf_s, res.n_prompt, "", pf, sizeof pf),
            wl_cli_phase_text("decode", dec_s, n_dec, "", dec, sizeof dec),
            (double)res.t_first_token_ns / 1e6, wl_context_n_threads(ctx),
            wl_context_n_threads(ctx) == 1 ? "" : "s");
    if (res.stop == WL_STOP_CONTEXT_FULL)
        context_full_hint(wl_context_n_ctx(ctx), m->config.n_ctx_train);
done:
    wl_generate_result_free(&res);
    wl_context_free(ctx);
    wl_tok_free(tok);
    wl_model_free(m);
    return status;
}

const struct wl_cli_command wl_cli_cmd_generate = {"generate",
                                                   "generate text with the built-in engine", run};
