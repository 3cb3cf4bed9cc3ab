/* `wattlens run`: the main job. Runs a prompt through a GGUF model (or the
 * built-in synthetic default) with the recorder attached (src/profile),
 * stores the whole run while it happens, then prints its summary computed
 * from the store (the same tables as `wattlens show ID`) or, with --json, one
 * object with run_id, the status, the text(s), the summary and the energy
 * provenance (README's `wattlens run` lists every key); a run that cannot
 * be read back gets the recorder's own figures instead. SIGINT (or
 * SIGTERM, SIGHUP) stops the settle, the baseline or generation cleanly and
 * the run is stored as `cancelled`. With --batch N, N sequences are
 * generated together (wl_generate_batch) and the run stores
 * the batch size, one row per decode round and each sequence's attributed
 * energy (runs.extra "sequences").
 */
#include "cli.h"
#include "cli_context.h"
#include "cli_sampling.h"
#include "cli_store.h"
#include "cli_summary.h"

#include "analysis/summary.h"
#include "engine/context.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "profile/default_model.h"
#include "profile/recorder.h"
#include "util/clock.h"
#include "util/json_text.h"
#include "util/log.h"
#include "util/utf8.h"
#include "util/signals.h"
#include "wattlens/error.h"

#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "run";

/* the signal that asked to stop (SIGINT, SIGTERM, SIGHUP), 0 while none */
static volatile sig_atomic_t g_cancel;

static void on_stop_signal(int sig)
{
    g_cancel = sig;
}

/* The signals that stop a run cleanly: Ctrl-C, kill's default, a closed
 * terminal. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0] };

/* --currency: at most this many bytes (the summary keeps 15) */
enum { MAX_CURRENCY_BYTES = 8 };

/* Whether s can be a currency: 1..MAX_CURRENCY_BYTES bytes of UTF-8 that
 * print as they are (wl_utf8_escape leaves them alone: no control or
 * bidirectional character, no backslash). A byte that is not UTF-8 would
 * make the run's extra unreadable to JSON readers (jansson refuses it),
 * which then lose every key of it (the price too). A quote is fine: the
 * extra is encoded by jansson (set_extra_text), the text output prints it
 * as it is. */
static bool currency_ok(const char *s)
{
    const size_t n = strlen(s);
    return n >= 1 && n <= MAX_CURRENCY_BYTES && wl_utf8_escape(NULL, 0, s, n) == n;
}

/* The tags in --tags' "a,b" (parse refuses empty ones): the size of the
 * run's tag list. */
static size_t count_tags(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

struct stop_handlers {
    struct sigaction old[N_STOP_SIGNALS];
    bool set[N_STOP_SIGNALS]; /* installed: old[i] is to be restored */
};

/* Catches the stop signals for the run, as `measure` does: one ignored on
 * entry (nohup, a background job of a script ignores SIGINT) stays ignored.
 * SA_RESTART: a write blocked on a full pipe or a stopped terminal (the
 * notes and the progress line on stderr, the store's I/O) goes on once it
 * can instead of failing with EINTR; the waits that a stop must end (the
 * settle's and the baseline's sleeps) are never restarted. */
static void stop_handlers_install(struct stop_handlers *h)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_cancel = 0;
    for (int i = 0; i < N_STOP_SIGNALS; i++)
        h->set[i] = wl_signal_catch_unless_ignored(stop_signals[i], &sa, &h->old[i]);
}

/* Puts back what stop_handlers_install replaced; again: nothing. */
static void stop_handlers_restore(struct stop_handlers *h)
{
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        if (h->set[i])
            sigaction(stop_signals[i], &h->old[i], NULL);
        h->set[i] = false;
    }
}

/* --db at this help's description column */
#define DB_HELP WL_CLI_DB_HELP_AT("      --db FILE           ", "                          ")

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: wattlens run [-m FILE] [-p TEXT]... [-n N] [-t THREADS] [-c N]\n"
        "                    [--depth off|module|deep] [--batch N] [--activations]\n"
        "                    [--baseline SEC] [--settle SEC]\n"
        "                    [--tags a,b] [--experiment NAME] [sampling options] [--db FILE]\n"
        "                    [--json]\n"
        "\n"
        "Profiles one generation on the built-in engine: energy and time per phase\n"
        "(pre_inference, prefill, decode, post_inference), per section, per token, and\n"
        "with --depth module/deep per layer, component and op. Output-token and section\n"
        "energies are energy-counter deltas read exactly at their boundaries (the CPU's\n"
        "part is the CPU-time model's estimate when no CPU energy sensor is readable,\n"
        "even beside a readable GPU sensor: labelled so); an input token's energy is an\n"
        "equal share of its prompt batch's, and layer, component and op energies are\n"
        "time shares of their forward pass's, all labelled 'attributed'. The model\n"
        "counts this process's CPU time (all its threads) at WATTLENS_MODEL_IDLE_W watts\n"
        "idle plus WATTLENS_MODEL_BUSY_CORE_W per busy core (defaults %.1f and %.1f);\n"
        "the run keeps them, and the summary's sensors line shows them. The run is\n"
        "stored while it happens; the summary printed at the end is read back from the\n"
        "store, so 'wattlens show ID' prints the same. Ctrl-C (or SIGTERM, SIGHUP) stops\n"
        "the settle, the baseline or the generation and stores the run as cancelled\n"
        "with everything so far; the exit status is then 128 + the signal number. A\n"
        "stop signal ignored on entry (a background job of a script, nohup) stays\n"
        "ignored.\n"
        "\n"
        "Without -m, a small synthetic llama model is generated once into\n"
        "$XDG_CACHE_HOME/wattlens (else ~/.cache/wattlens) and used: its weights are\n"
        "random, so its text is meaningless; it only shows the profile.\n"
        "\n"
        "Options:\n"
        "  -m, --model FILE        GGUF model (default: the built-in synthetic model)\n"
        "  -p, --prompt TEXT       prompt (default: \"Once upon a time\"); with --batch up to\n"
        "                          N times; control tokens written in it (<s>, </s>) are\n"
        "                          those tokens, as with 'tokenize --special'\n"
        "  -n, --n-predict N       tokens to generate (per sequence; default 64)\n"
        "  -t, --threads N         threads (default: the CPUs wattlens may run on)\n"
        "  -c, --ctx-size N        context positions (per sequence; default: the longest\n"
        "                          prompt's tokens + N, at most the model's training\n"
        "                          context; as in 'generate --help')\n"
        "      --cache-type T      KV cache type f16 (default) or f32 (stored with the run)\n"
        "      --batch N           generate N sequences together (1..%d, default 1): one\n"
        "                          prefill for all prompts, then decode rounds of one token\n"
        "                          per running sequence (weights read once per round); each\n"
        "                          stops on its own. Sequence i uses prompt i mod the number\n"
        "                          of -p given and seed S + i. A stored output token row is\n"
        "                          one round (its energy measured); tokens/s, J/token and\n"
        "                          cost count every sequence's tokens (whole batch); energy\n"
        "                          per sequence is attributed (a round's split equally)\n"
        "      --depth D           off (phases, sections, tokens), module (+ layers and\n"
        "                          components; default) or deep (+ ops; op rows are\n"
        "                          stored, and only 'wattlens export' writes them)\n"
        "      --activations       activation statistics per component; with deep also\n"
        "                          attention statistics per head, MLP kill ratio and norm\n"
        "                          variance ratio (slower; stored, and like op rows only\n"
        "                          'wattlens export' writes them); needs depth module or\n"
        "                          deep\n"
        "      --baseline SEC      idle baseline before the run (default 2; 0 = none)\n"
        "      --settle SEC        wait after model load before the baseline (default 1)\n"
        "      --tags a,b          tags stored with the run (names, none empty; one given\n"
        "                          twice is stored once)\n"
        "      --experiment NAME   experiment name stored with the run (not empty)\n"
        "      --price-kwh P       electricity price per kWh (default %.2f)\n"
        "      --currency C        currency of --price-kwh (default %s, the default\n"
        "                          price's; another one needs --price-kwh): 1 to %d\n"
        "                          bytes of printable UTF-8 (EUR, \u20ac)\n"
        "      --co2-g-kwh G       grid carbon intensity, g CO2 per kWh (default "
        "%.0f)\n" WL_CLI_SAMPLING_HELP
        "      --layers N          rows of the layer table (default 48; 0 = all)\n"
        "      --json              print one JSON object: run_id, status (as stored),\n"
        "                          store_error (null, or why storing failed), stop_reason,\n"
        "                          text (sequence 0's), n_seq, sequences (each one's\n"
        "                          prompt, tokens, stop_reason, text), default_model,\n"
        "                          note (built-in model only), summary (null when the\n"
        "                          run cannot be read back: then generation, the\n"
        "                          recorder's own figures), provenance; nothing when\n"
        "                          the run cannot be started (the error is on stderr)\n" DB_HELP
        "  -h, --help              show this help\n"
        "\n"
        "Examples:\n"
        "  wattlens run                                   # built-in model, a few seconds\n"
        "  wattlens run -m stories260K.gguf -p \"Once upon a time\" -n 128 --depth deep\n"
        "  wattlens run -m model.gguf -p \"Hello\" --baseline 0 --tags q8,laptop --json\n"
        "  wattlens run -m model.gguf --batch 4 -p \"Once\" -p \"The sky\" --depth deep\n"
        "  wattlens show RUN_ID                           # the summary again, from the store\n",
        WL_MODEL_DEFAULT_IDLE_W, WL_MODEL_DEFAULT_BUSY_CORE_W, WL_CONTEXT_MAX_SEQ,
        WL_DEFAULT_PRICE_PER_KWH, WL_DEFAULT_CURRENCY, MAX_CURRENCY_BYTES,
        WL_DEFAULT_CO2_G_PER_KWH);
}

struct progress {
    bool tty;
    uint64_t t_decode0;
    int64_t n;
};

static void on_text(void *ud, const char *text, size_t len)
{
    struct progress *p = ud;
    (void)text;
    (void)len;
    p->n++;
    if (!p->tty || wl_cli_quiet())
        return;
    uint64_t now = wl_clock_now_ns();
    if (!p->t_decode0)
        p->t_decode0 = now;
    double s = (double)(now - p->t_decode0) / 1e9;
    /* a log line or note meanwhile ends it and starts a line of its own */
    wl_log_progress("  decode: %lld pieces, %.1f tokens/s   ", (long long)p->n,
                    s > 0 ? (double)(p->n - 1) / s : 0.0);
}

static void on_seq_text(void *ud, int32_t seq, const char *text, size_t len)
{
    (void)seq;
    on_text(ud, text, len);
}

struct opts {
    const char *model, *prompt, *tags, *experiment, *db, *currency;
    const char *prompts[WL_CONTEXT_MAX_SEQ]; /* -p values, in order */
    int n_prompts;
    long n_predict, n_ctx, max_layers, n_batch;
    double baseline_s, settle_s, price, co2;
    bool price_set, co2_set, currency_set; /* given on the command line (else defaults) */
    enum wl_profile_depth depth;
    bool activations, json;
    struct wl_generate_params gp;
    struct wl_context_params cp;
};

static int parse(int argc, char **argv, struct opts *o)
{
    enum {
        O_DEPTH = 256,
        O_ACT,
        O_BASE,
        O_SETTLE,
        O_TAGS,
        O_EXP,
        O_PRICE,
        O_CUR,
        O_CO2,
        O_JSON,
        O_LAYERS,
        O_BATCH,
        O_CACHE
    };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"prompt", required_argument, NULL, 'p'},
        {"n-predict", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},
        {"ctx-size", required_argument, NULL, 'c'},
        WL_CLI_SAMPLING_OPTIONS,
        {"depth", required_argument, NULL, O_DEPTH},
        {"activations", no_argument, NULL, O_ACT},
        {"baseline", required_argument, NULL, O_BASE},
        {"settle", required_argument, NULL, O_SETTLE},
        {"tags", required_argument, NULL, O_TAGS},
        {"experiment", required_argument, NULL, O_EXP},
        {"price-kwh", required_argument, NULL, O_PRICE},
        {"currency", required_argument, NULL, O_CUR},
        {"co2-g-kwh", required_argument, NULL, O_CO2},
        {"json", no_argument, NULL, O_JSON},
        {"layers", required_argument, NULL, O_LAYERS},
        {"batch", required_argument, NULL, O_BATCH},
        {"cache-type", required_argument, NULL, O_CACHE},
        {"help", no_argument, NULL, 'h'},
        WL_CLI_DB_OPTION,
        {NULL, 0, NULL, 0},
    };
    long v;
    int c;
    optind = 1;
    opterr = 0; /* wl_cli_option_error says it once */
    while ((c = getopt_long(argc, argv, ":m:p:n:t:c:h", opts, NULL)) != -1) {
        int sr = wl_cli_sampling_option(CMD, c, optarg, &o->gp.sampling);
        if (sr < 0)
            return WL_EXIT_USAGE;
        if (sr > 0)
            continue;
        switch (c) {
        case 'm':
            o->model = optarg;
            break;
        case 'p':
            if (o->n_prompts == WL_CONTEXT_MAX_SEQ)
                return wl_cli_usage_error(CMD, "at most %d prompts (-p)", WL_CONTEXT_MAX_SEQ);
            o->prompts[o->n_prompts++] = optarg;
            o->prompt = optarg;
            break;
        case O_BATCH:
            if (!wl_cli_parse_long(CMD, "--batch", optarg, 1, WL_CONTEXT_MAX_SEQ, &o->n_batch))
                return WL_EXIT_USAGE;
            break;
        case 'n':
            if (!wl_cli_parse_long(CMD, "-n", optarg, 1, 1 << 20, &o->n_predict))
                return WL_EXIT_USAGE;
            break;
        case 't':
            if (!wl_cli_parse_long(CMD, "-t", optarg, 1, 256, &v))
                return WL_EXIT_USAGE;
            o->cp.n_threads = (int32_t)v;
            break;
        case 'c':
            if (!wl_cli_parse_long(CMD, "-c", optarg, 1, 1 << 20, &o->n_ctx))
                return WL_EXIT_USAGE;
            break;
        case O_CACHE:
            if (!wl_cli_parse_cache_type(CMD, "--cache-type", optarg, &o->cp.kv_type))
                return WL_EXIT_USAGE;
            break;
        case O_DEPTH:
            if (wl_profile_depth_parse(optarg, &o->depth) != 0)
                return wl_cli_usage_error(CMD, "--depth must be off, module or deep, not '%s'",
                                          optarg);
            break;
        case O_ACT:
            o->activations = true;
            break;
        case O_BASE:
            if (!wl_cli_parse_double(CMD, "--baseline", optarg, 0.0, 3600.0, &o->baseline_s))
                return WL_EXIT_USAGE;
            break;
        case O_SETTLE:
            if (!wl_cli_parse_double(CMD, "--settle", optarg, 0.0, 3600.0, &o->settle_s))
                return WL_EXIT_USAGE;
            break;
        case O_TAGS:
            /* an empty tag could be stored but never found by `runs --tag` */
            if (!*optarg || optarg[0] == ',' || optarg[strlen(optarg) - 1] == ',' ||
                strstr(optarg, ",,"))
                return wl_cli_usage_error(CMD,
                                          "--tags '%s' holds an empty tag (give names separated "
                                          "by commas, e.g. --tags q4,laptop)",
                                          optarg);
            o->tags = optarg;
            break;
        case O_EXP:
            if (!*optarg)
                return wl_cli_usage_error(CMD, "--experiment needs a name (it is empty)");
            o->experiment = optarg;
            break;
        case O_PRICE:
            if (!wl_cli_parse_double(CMD, "--price-kwh", optarg, 0.0, 1e6, &o->price))
                return WL_EXIT_USAGE;
            o->price_set = true;
            break;
        case O_CUR:
            if (!currency_ok(optarg))
                return wl_cli_usage_error(CMD,
                                          "--currency: 1 to %d bytes of printable UTF-8 (e.g. "
                                          "EUR or \u20ac), no backslashes or control characters",
                                          MAX_CURRENCY_BYTES);
            o->currency = optarg;
            o->currency_set = true;
            break;
        case O_CO2:
            if (!wl_cli_parse_double(CMD, "--co2-g-kwh", optarg, 0.0, 1e5, &o->co2))
                return WL_EXIT_USAGE;
            o->co2_set = true;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_LAYERS:
            if (!wl_cli_parse_long(CMD, "--layers", optarg, 0, 1000000, &o->max_layers))
                return WL_EXIT_USAGE;
            break;
        case WL_CLI_OPT_DB:
            /* checked here, before the model is loaded */
            if (!*optarg)
                return wl_cli_usage_error(CMD, "--db needs a file name (it is empty)");
            o->db = optarg;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return -1;
        default:
            return wl_cli_option_error(CMD, c, argv, opts);
        }
    }
    if (optind < argc)
        return wl_cli_usage_error(CMD, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_PROMPT));
    if (wl_cli_model_name_empty(CMD, o->model))
        return WL_EXIT_USAGE;
    /* the statistics are taken from the tensors of component and op
     * events, which depth off does not record: nothing would be collected */
    if (o->activations && o->depth == WL_PROFILE_OFF)
        return wl_cli_usage_error(CMD, "--activations needs --depth module or deep (depth off "
                                       "records no components, so no statistics)");
    if (o->n_prompts > o->n_batch)
        return wl_cli_usage_error(CMD, "%d prompts (-p) for a batch of %ld (use --batch %d)",
                                  o->n_prompts, o->n_batch, o->n_prompts);
    /* a currency names the unit of a price: the default price is in USD,
     * and labelled in another currency it would be off by the exchange rate */
    if (o->currency_set && !o->price_set && strcmp(o->currency, WL_DEFAULT_CURRENCY) != 0)
        return wl_cli_usage_error(CMD,
                                  "--currency %s needs --price-kwh: the default price (%.2f per "
                                  "kWh) is in %s",
                                  o->currency, WL_DEFAULT_PRICE_PER_KWH, WL_DEFAULT_CURRENCY);
    return WL_EXIT_OK;
}

/* Splits "a,b" into the run info's tag list (pointers into buf; out has
 * count_tags(buf) entries), each tag once, in the order of its first
 * occurrence: a run carries a tag or not (the store keeps one row per tag,
 * `runs --tag` matches it once), so "a,a" is the tag a, and a note says the
 * second was dropped. */
static size_t split_tags(char *buf, const char **out)
{
    size_t n = 0;
    bool noted = false;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (!*t)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = strcmp(out[i], t) == 0;
        if (!seen)
            out[n++] = t;
        else if (!noted) { /* one note, not one per repeat */
            wl_cli_note(CMD, "--tags names '%s' more than once; the run carries each tag once", t);
            noted = true;
        }
    }
    return n;
}

/* The stored prompt of a batch: the distinct -p values joined with " | "
 * (each sequence's own prompt is prompt i mod n). Heap; NULL on OOM. */
static char *joined_prompts(const struct opts *o)
{
    if (o->n_prompts <= 1)
        return strdup(o->prompt);
    size_t n = 1;
    for (int i = 0; i < o->n_prompts; i++)
        n += strlen(o->prompts[i]) + 3;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < o->n_prompts; i++) {
        if (i > 0)
            strcat(s, " | ");
        strcat(s, o->prompts[i]);
    }
    return s;
}

/* The texts of a batch as printed: a '--- sequence i (...)' line, then the
 * text. Heap; NULL on OOM. */
static char *batch_texts(const struct wl_generate_result *res, int32_t n)
{
    size_t cap = 1;
    for (int32_t i = 0; i < n; i++)
        cap += 128 + res[i].text_len;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (int32_t i = 0; i < n; i++) {
        p += snprintf(p, cap - (size_t)(p - s),
                      "--- sequence %d (%d prompt tokens, %d generated, stop: %s)\n", (int)i,
                      res[i].n_prompt, res[i].n_generated, wl_stop_reason_name(res[i].stop));
        if (res[i].text_len)
            memcpy(p, res[i].text, res[i].text_len);
        p += res[i].text_len;
        *p++ = '\n';
        *p = '\0';
    }
    return s;
}

/* Sets the run's extra field key to the JSON text json; a failure is
 * warned about (the run goes on: the summary shows the field's default, or
 * none). */
static void set_extra(wl_store *st, wl_store_run *srun, const char *key, const char *json)
{
    if (json && wl_store_run_set_extra(srun, key, json) == 0)
        return;
    wl_cli_note(CMD, "warning: the run's %s could not be stored: %s", key,
                json ? wl_store_last_error(st) : wl_strerror(WL_ENOMEM));
}

/* set_extra with the text s as a JSON string, escaped by jansson (a byte
 * that is not UTF-8 would be U+FFFD: parse lets none through). */
static void set_extra_text(wl_store *st, wl_store_run *srun, const char *key, const char *s)
{
    json_t *v = wl_json_text(s, strlen(s), NULL);
    char *json = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(v);
    set_extra(st, srun, key, json);
    free(json);
}

/* Each sequence's counts, stop reason and attributed energy into
 * runs.extra "sequences" (read back by the summary). After the generation,
 * before wl_recorder_finish. A prefill cancelled between its forward
 * batches evaluated only the first prompt tokens (in sequence order): a
 * sequence's stored prompt_tokens are its evaluated ones, which its prefill
 * energy covers, and a note says so. Nothing is stored (a warning says so)
 * when the recorder cannot attribute (its records do not match the counts). */
static void store_sequences(wl_recorder *rec, wl_store *st, wl_store_run *srun,
                            const struct wl_generate_result *res, int32_t n)
{
    int32_t n_prompt[WL_CONTEXT_MAX_SEQ], n_gen[WL_CONTEXT_MAX_SEQ], n_eval[WL_CONTEXT_MAX_SEQ];
    double pre[WL_CONTEXT_MAX_SEQ], dec[WL_CONTEXT_MAX_SEQ];
    int64_t n_all = 0;
    for (int32_t i = 0; i < n; i++) {
        n_prompt[i] = res[i].n_prompt;
        n_gen[i] = res[i].n_generated;
        n_all += n_prompt[i];
    }
    wl_recorder_stop(rec);
    if (wl_recorder_sequence_energy(rec, n, n_prompt, n_gen, pre, dec, n_eval) != 0) {
        wl_cli_note(CMD, "warning: the recorded rounds do not match the sequences' "
                         "token counts; no per-sequence energy is stored");
        return;
    }
    int64_t n_evaluated = 0;
    for (int32_t i = 0; i < n; i++)
        n_evaluated += n_eval[i];
    if (n_evaluated < n_all)
        wl_cli_note(CMD,
                    "cancelled during the prefill after %lld of %lld prompt tokens: each "
                    "sequence's prompt tokens and prefill energy are those evaluated",
                    (long long)n_evaluated, (long long)n_all);
    json_t *arr = json_array();
    for (int32_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "seq", json_integer(i));
        json_object_set_new(o, "prompt_tokens", json_integer(n_eval[i]));
        json_object_set_new(o, "output_tokens", json_integer(n_gen[i]));
        json_object_set_new(o, "stop", json_string(wl_stop_reason_name(res[i].stop)));
        json_object_set_new(o, "prefill_energy_j", wl_json_real_or_null(pre[i]));
        json_object_set_new(o, "decode_energy_j", wl_json_real_or_null(dec[i]));
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_COMPACT | WL_JSON_REAL_FLAGS);
    json_decref(arr);
    set_extra(st, srun, "sequences", text);
    free(text);
}

/* What `run --json` prints: the run's id and stored status (NULL: not
 * known), why storing failed (NULL: it did not), the generation's own
 * results, and the summary read back from the store (NULL: it could not be
 * read, and then the recorder's own figures, as `generation`). */
struct run_json {
    const char *id, *status, *store_error;
    const struct wl_generate_result *res;
    const char *const *prompts;
    int32_t n_seq;
    bool default_model;
    const char *note;
    json_t *summary;                             /* taken */
    const struct wl_recorder_totals *generation; /* when summary is NULL */
    const char *provenance;                      /* JSON text, may be NULL */
};

static json_t *generation_json(const struct wl_recorder_totals *t)
{
    json_t *g = json_object();
    const bool known = !isnan(t->energy_j);
    json_object_set_new(g, "duration_ms", wl_json_real_or_null(t->duration_ms));
    json_object_set_new(g, "energy_j", wl_json_real_or_null(t->energy_j));
    json_object_set_new(g, "energy_method",
                        known ? json_string(wl_method_key(t->method)) : json_null());
    json_object_set_new(g, "energy_scope",
                        t->energy_scope[0] ? json_string(t->energy_scope) : json_null());
    json_object_set_new(g, "input_tokens", json_integer(t->n_input_tokens));
    json_object_set_new(g, "output_tokens", json_integer(t->n_output_tokens));
    return g;
}

static void print_run_json(const struct run_json *in)
{
    json_t *j = json_object();
    json_object_set_new(j, "run_id", in->id && in->id[0] ? json_string(in->id) : json_null());
    json_object_set_new(j, "status", in->status ? json_string(in->status) : json_null());
    /* always present (--help): the message may quote a --db path that is not UTF-8, which
     * json_string refuses (the key was then dropped); store_error_hex has its bytes */
    wl_json_set_text(j, "store_error", in->store_error);
    const struct wl_generate_result *res = in->res;
    /* sequence 0's (the only one without --batch); every one under "sequences" */
    json_object_set_new(j, "stop_reason", json_string(wl_stop_reason_name(res[0].stop)));
    wl_json_set_textn(j, "text", res[0].text ? res[0].text : "", res[0].text_len);
    json_object_set_new(j, "n_seq", json_integer(in->n_seq));
    json_t *seqs = json_array();
    for (int32_t i = 0; i < in->n_seq; i++) {
        json_t *q = json_object();
        json_object_set_new(q, "seq", json_integer(i));
        wl_json_set_text(q, "prompt", in->prompts[i]);
        json_object_set_new(q, "prompt_tokens", json_integer(res[i].n_prompt));
        json_object_set_new(q, "output_tokens", json_integer(res[i].n_generated));
        json_object_set_new(q, "stop_reason", json_string(wl_stop_reason_name(res[i].stop)));
        wl_json_set_textn(q, "text", res[i].text ? res[i].text : "", res[i].text_len);
        json_array_append_new(seqs, q);
    }
    json_object_set_new(j, "sequences", seqs);
    json_object_set_new(j, "default_model", json_boolean(in->default_model));
    if (in->default_model)
        json_object_set_new(j, "note", json_string(in->note));
    json_object_set_new(j, "summary", in->summary ? in->summary : json_null());
    if (!in->summary && in->generation)
        json_object_set_new(j, "generation", generation_json(in->generation));
    json_t *pj = in->provenance ? json_loads(in->provenance, 0, NULL) : NULL;
    json_object_set_new(j, "provenance", pj ? pj : json_null());
    wl_cli_print_json(j);
}

/* What the text output prints before the summary: the note on the
 * built-in model, then the generated text(s). */
struct run_text {
    const char *note;  /* NULL: not the built-in model */
    const char *texts; /* a batch's texts (batch_texts); NULL: one sequence */
    int32_t n_seq;
    int64_t n_generated;
    bool failed; /* the generation failed */
    const struct wl_generate_result *res;
};

static void print_run_text(const struct run_text *in)
{
    const struct wl_generate_result *r = &in->res[0];
    if (in->note)
        printf("NOTE: %s\n\n", in->note);
    if (in->n_seq > 1)
        printf("Generated texts (batch of %d, %lld token%s):\n%s\n", (int)in->n_seq,
               (long long)in->n_generated, in->n_generated == 1 ? "" : "s",
               in->texts ? in->texts : "");
    else if (in->failed)
        printf("Generated text (%d token%s before the generation failed):\n%s\n\n", r->n_generated,
               r->n_generated == 1 ? "" : "s", r->text ? r->text : "");
    else
        printf("Generated text (%d token%s, stop: %s):\n%s\n\n", r->n_generated,
               r->n_generated == 1 ? "" : "s", wl_stop_reason_name(r->stop),
               r->text ? r->text : "");
}

/* The text output's last line when the run cannot be read back from db
 * (no summary): whether it is stored (stored_ok: its finish landed) and
 * the recorder's own figures t, which are not in the store when it is not
 * (`--json` gives them as `generation`). */
static void print_unread_run(const char *id, const char *db, bool stored_ok,
                             const struct wl_recorder_totals *t)
{
    char dur[32], energy[32];
    wl_cli_fmt_duration(t->duration_ms, dur, sizeof dur);
    wl_cli_fmt_energy(t->energy_j, energy, sizeof energy);
    if (stored_ok)
        printf("Run %s stored in %s, but it could not be read back (see the error above). The "
               "recorder's own figures: ",
               id, db);
    else
        printf("Run %s is NOT stored whole in %s, nor could it be read back (see the errors "
               "above). The recorder's own figures, not stored: ",
               id, db);
    printf("%lld input token%s, %lld output token%s, %s, energy %s", (long long)t->n_input_tokens,
           t->n_input_tokens == 1 ? "" : "s", (long long)t->n_output_tokens,
           t->n_output_tokens == 1 ? "" : "s", dur, energy);
    if (!isnan(t->energy_j))
        printf(" (%s%s%s)", wl_method_label(t->method), t->energy_scope[0] ? ", " : "",
               t->energy_scope);
    printf(".\n");
}

static int run(int argc, char **argv)
{
    struct opts o = {.prompt = "Once upon a time",
                     .n_predict = 64,
                     .max_layers = 48,
                     .n_batch = 1,
                     .baseline_s = 2.0,
                     .settle_s = 1.0,
                     .price = WL_DEFAULT_PRICE_PER_KWH,
                     .co2 = WL_DEFAULT_CO2_G_PER_KWH,
                     .currency = WL_DEFAULT_CURRENCY,
                     .depth = WL_PROFILE_MODULE};
    o.gp = wl_generate_default_params();
    o.cp = wl_context_default_params();
    int prc = parse(argc, argv, &o);
    if (prc < 0)
        return WL_EXIT_OK;
    if (prc != WL_EXIT_OK)
        return prc;
    const bool tty = wl_cli_stderr_is_tty();
    const int32_t n_seq = (int32_t)o.n_batch;
    const bool batch = n_seq > 1;

    struct wl_errmsg err = {{0}};
    char model_path[4096];
    bool default_model = o.model == NULL;
    struct wl_default_model_status dm;
    wl_model *m = NULL;
    wl_tokenizer *tok = NULL;
    wl_context *ctx = NULL;
    wl_store *st = NULL;
    wl_store_run *srun = NULL;
    wl_recorder *rec = NULL;
    char *prov = NULL, *tagbuf = NULL, *prompt_all = NULL, *texts = NULL;
    const char **tags = NULL; /* into tagbuf */
    /* res[i]: sequence i (res[0] alone without --batch) */
    struct wl_generate_result *res = calloc((size_t)n_seq, sizeof *res);
    const char **seq_prompts = calloc((size_t)n_seq, sizeof *seq_prompts);
    int status = WL_EXIT_FAIL, rc;
    char id[40] = "";
    struct stop_handlers sh = {0};
    if (!res || !seq_prompts) {
        wl_cli_fail(CMD, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < n_seq; i++)
        seq_prompts[i] = o.n_prompts > 0 ? o.prompts[i % o.n_prompts] : o.prompt;

    if (default_model) {
        if (wl_default_model_ensure(model_path, sizeof model_path, &dm, &err) != 0) {
            wl_cli_fail(CMD, "built-in model: %s", err.text);
            goto done;
        }
        o.model = model_path;
        if (dm.replaced)
            wl_cli_note(CMD, "the cached built-in model %s was damaged (%s); generated it again",
                        model_path, dm.why);
        else if (dm.created)
            wl_cli_note(CMD, "generated the built-in model %s", model_path);
    }
    wl_cli_note(CMD, "loading %s", o.model);
    if ((rc = wl_model_load(o.model, &m, &err)) != 0) {
        if (default_model) /* checked just now, so only a change since then */
            wl_cli_fail(CMD, "%s (remove it and run again to have it generated anew)", err.text);
        else
            wl_cli_fail(CMD, "%s", err.text); /* err names the file */
        goto done;
    }
    if ((rc = wl_tok_load_gguf(m->gguf, &tok, &err)) != 0) {
        wl_cli_fail(CMD, "%s: tokenizer: %s", o.model, err.text);
        goto done;
    }
    /* context: sized and announced as `generate` does (cli_context.h) */
    o.gp.n_predict = (int32_t)o.n_predict;
    o.cp.n_seq = n_seq;
    if ((rc = wl_cli_context_create(CMD, m, tok, &o.gp, seq_prompts, n_seq, o.n_ctx, &o.cp,
                                    &ctx)) != WL_EXIT_OK)
        goto done;

    if ((rc = wl_cli_store_open(CMD, o.db, WL_CLI_STORE_CREATE, &st)) != WL_EXIT_OK) {
        status = rc; /* its message said why; a usage error stays one */
        goto done;
    }
    size_t n_tags = 0;
    if (o.tags) {
        tagbuf = strdup(o.tags);
        tags = calloc(count_tags(o.tags), sizeof *tags);
        if (!tagbuf || !tags) { /* not stored without them */
            wl_cli_fail(CMD, "%s", wl_strerror(WL_ENOMEM));
            goto done;
        }
        n_tags = split_tags(tagbuf, tags);
    }
    prompt_all = joined_prompts(&o);
    char sampling[512], cpu[256];
    snprintf(sampling, sizeof sampling,
             "{\"temperature\":%g,\"top_k\":%d,\"top_p\":%g,\"min_p\":%g,\"repeat_penalty\":%g,"
             "\"seed\":%llu,\"n_predict\":%ld}",
             (double)o.gp.sampling.temperature, o.gp.sampling.top_k, (double)o.gp.sampling.top_p,
             (double)o.gp.sampling.min_p, (double)o.gp.sampling.repeat_penalty,
             (unsigned long long)o.gp.sampling.seed, o.n_predict);
    wl_cli_host_cpu(cpu, sizeof cpu);
    const char *base = strrchr(o.model, '/');
    struct wl_run_info info = {
        .kind = WL_RUN_KIND_INFERENCE,
        .model_name = default_model ? "built-in synthetic llama (meaningless text)"
                                    : (base ? base + 1 : o.model),
        .model_path = o.model,
        .model_arch = m->config.arch,
        .prompt = prompt_all ? prompt_all : o.prompt,
        .tags = tags,
        .n_tags = n_tags,
        .experiment = o.experiment,
        .depth = wl_profile_depth_name(o.depth),
        .sampling_json = sampling,
        /* the context's: it raises the 64 asked for to --batch's N */
        .batch_size = wl_context_n_ubatch(ctx),
        .n_seq = n_seq,
        .threads = wl_context_n_threads(ctx),
        .context_length = wl_context_n_ctx(ctx),
        .host_cpu = cpu[0] ? cpu : NULL,
        .host_cores = sysconf(_SC_NPROCESSORS_ONLN),
        .host_memory_bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE),
    };

    struct wl_recorder_params rp;
    wl_recorder_default_params(&rp);
    rp.depth = o.depth;
    rp.activations = o.activations;
    rp.n_layer = m->config.n_layer;
    rp.n_head = m->config.n_head;
    rp.max_input_tokens = wl_context_n_ctx(ctx) * n_seq; /* each sequence has n_ctx positions */
    rp.max_output_tokens =
        (int32_t)(o.n_predict < wl_context_n_ctx(ctx) ? o.n_predict : wl_context_n_ctx(ctx));
    rp.n_ubatch = wl_context_n_ubatch(ctx); /* its prompt batches: as many as it runs */
    rp.n_seq = n_seq;
    rp.max_text_bytes = wl_tok_decoder_out_max(tok); /* every token's text whole */
    if ((rc = wl_recorder_create(&rp, &rec, &err)) != 0) {
        wl_cli_fail(CMD, "%s", err.text);
        goto done;
    }
    prov = wl_recorder_provenance_json(rec);
    info.sensor_provenance_json = prov;
    /* before the run's row exists: a stop signal from here on is this
     * handler's, so it never leaves the row running (one that comes before
     * the generation keeps it from starting: the run is cancelled below) */
    stop_handlers_install(&sh);
    if ((rc = wl_store_run_begin(st, &info, &srun, id)) != 0) {
        /* nothing generated, no run id: with --json too, as every failure
         * before the run (a model or a database that cannot be opened),
         * only this message and exit 1 (128 + a stop signal that came);
         * stdout stays empty (README) */
        wl_cli_fail(CMD, "cannot store the run, so it was not started: %s",
                    wl_store_last_error(st));
        if (g_cancel) /* stopped meanwhile: 128 + it, as any stop */
            status = 128 + (int)g_cancel;
        goto done;
    }
    wl_recorder_set_run(rec, srun);
    /* only what the user gave: `show` labels the rest as defaults; with
     * 15 digits, as every stored JSON number (WL_JSON_REAL_FLAGS), so a
     * price of 0.7 is stored, and exported as CSV, as 0.7 */
    char extra[96];
    if (o.price_set) {
        snprintf(extra, sizeof extra, "%.15g", o.price);
        set_extra(st, srun, "price_per_kwh", extra);
    }
    if (o.co2_set) {
        snprintf(extra, sizeof extra, "%.15g", o.co2);
        set_extra(st, srun, "co2_g_per_kwh", extra);
    }
    if (o.currency_set)
        set_extra_text(st, srun, "currency", o.currency);
    set_extra(st, srun, "default_model", default_model ? "true" : "false");
    set_extra_text(st, srun, "kv_cache_type", wl_ttype_name(o.cp.kv_type));
    (void)wl_store_flush(srun); /* not held through the settle and baseline (store.md) */

    if (o.settle_s > 0 || o.baseline_s > 0)
        wl_cli_note(CMD, "settling %.1f s, then measuring idle power for %.1f s", o.settle_s,
                    o.baseline_s);
    wl_recorder_baseline(rec, (uint64_t)(o.settle_s * 1e9), (uint64_t)(o.baseline_s * 1e9),
                         &g_cancel);

    struct wl_hooks hooks = wl_recorder_hooks(rec);
    wl_context_set_hooks(ctx, &hooks);
    struct progress pr = {.tty = tty};
    o.gp.prompt = o.prompt;
    o.gp.n_predict = (int32_t)o.n_predict;
    o.gp.cancel = &g_cancel;
    o.gp.on_text = on_text;
    o.gp.user_data = &pr;
    struct wl_generate_batch_params bp = {.prompts = seq_prompts, .n_seq = n_seq,
                                          .on_text = on_seq_text, .user_data = &pr};
    struct wl_generate_batch_stats bstats;
    char batch_note[48] = "";
    if (batch)
        snprintf(batch_note, sizeof batch_note, ", batch of %d sequences", (int)n_seq);
    /* the recording first: without it nothing of a generation would be
     * stored, so none runs, and the run is stored as failed (not as
     * complete with nothing in it) */
    const int start_rc = wl_recorder_start(rec, &err); /* err: the recorder's reason */
    if (start_rc != 0) {
        rc = start_rc;
        for (int32_t i = 0; i < n_seq; i++)
            res[i].stop = WL_STOP_ERROR;
    } else if (g_cancel) { /* stopped in the settle or the baseline: no generation to announce */
        rc = 0;
        for (int32_t i = 0; i < n_seq; i++)
            res[i].stop = WL_STOP_CANCELLED;
    } else {
        wl_cli_note(CMD, "prefill and decode (depth %s%s%s)", wl_profile_depth_name(o.depth),
                    o.activations ? ", activation statistics" : "", batch_note);
        rc = batch ? wl_generate_batch(ctx, tok, &o.gp, &bp, res, &bstats, &err)
                   : wl_generate(ctx, tok, &o.gp, &res[0], &err);
    }
    wl_context_set_hooks(ctx, NULL);
    wl_log_progress_end();
    bool cancelled = false;
    int64_t n_generated = 0;
    for (int32_t i = 0; i < n_seq; i++) {
        cancelled |= res[i].stop == WL_STOP_CANCELLED;
        n_generated += res[i].n_generated;
    }
    if (batch && rc == 0) {
        texts = batch_texts(res, n_seq);
        store_sequences(rec, st, srun, res, n_seq);
    }
    struct wl_recorder_finish fin = {
        .status = rc != 0    ? WL_RUN_FAILED
                  : cancelled ? WL_RUN_CANCELLED
                              : WL_RUN_COMPLETE,
        .response = batch ? texts : res[0].text,
        .error = rc != 0 ? err.text : NULL,
        .kv_cache_bytes = (int64_t)wl_context_kv_bytes(ctx),
    };
    int frc = wl_recorder_finish(rec, &fin);
    srun = NULL;
    stop_handlers_restore(&sh);
    if (start_rc != 0)
        wl_cli_fail(CMD, "%s; nothing was generated (the run is stored as failed: %s)", err.text,
                    id);
    else if (rc != 0)
        wl_cli_fail(CMD, "generation failed: %s (the run is stored as failed: %s)", err.text, id);
    char store_err[WL_ERRMSG_SIZE] = ""; /* frc's message, for --json */
    if (frc != 0) {
        snprintf(store_err, sizeof store_err, "%s", wl_store_last_error(st));
        wl_cli_fail(CMD, "storing the run: %s", store_err);
    }
    if (fin.status == WL_RUN_CANCELLED && frc == 0)
        wl_cli_note(CMD,
                    "cancelled; the run is stored as cancelled with %lld generated token%s: %s",
                    (long long)n_generated, n_generated == 1 ? "" : "s", id);

    const char *note = "the built-in model has random weights: its text is meaningless; it only "
                       "shows the profile. Point -m at a real GGUF model (for example "
                       "stories260K.gguf or any llama-family GGUF) for real text.";
    struct run_json rj = {.id = id,
                          .res = res,
                          .prompts = seq_prompts,
                          .n_seq = n_seq,
                          .default_model = default_model,
                          .note = note,
                          .provenance = prov};
    const struct run_text rt = {.note = default_model ? note : NULL,
                                .texts = texts,
                                .n_seq = n_seq,
                                .n_generated = n_generated,
                                .failed = rc != 0,
                                .res = res};

    /* the summary, from the store alone */
    struct wl_store_aggregates a;
    struct wl_summary sum;
    if (wl_store_summary(st, id, &a) != 0) {
        /* --json still prints what is known (exit 1): the id, why storing
         * or reading back failed, the generation's own results and the
         * recorder's figures; the status only when the finish landed (as
         * asked: a finish that stored another status says so in frc) */
        char read_err[2 * WL_ERRMSG_SIZE + 64];
        snprintf(read_err, sizeof read_err, "%s%sreading the run back failed: %s", store_err,
                 store_err[0] ? "; then " : "", wl_store_last_error(st));
        wl_cli_fail(CMD, "%s", wl_store_last_error(st));
        struct wl_recorder_totals t;
        wl_recorder_get_totals(rec, &t);
        if (o.json) {
            rj.status = frc == 0 ? wl_run_status_name(fin.status) : NULL;
            rj.store_error = read_err;
            rj.generation = &t;
            print_run_json(&rj);
        } else { /* the text and the recorder's figures (exit 1) */
            print_run_text(&rt);
            print_unread_run(id, wl_store_path(st), frc == 0, &t);
            (void)wl_cli_flush_stdout(CMD);
        }
        goto done;
    }
    /* Storing failed (frc): what was stored is said as it is. A finish
     * that never landed left the row running, as this process, its writer,
     * is alive: it gave up on it, and readers see it incomplete once it
     * exits, so it is shown so now, not as still being recorded. A finish
     * that landed may have stored another status than asked (a run that
     * lost a batch SQLite rolled back is failed, not complete). */
    const enum wl_run_status stored =
        frc != 0 && a.run.row.status == WL_RUN_RUNNING ? WL_RUN_INCOMPLETE : a.run.row.status;
    a.run.row.status = stored;
    if (wl_summary_compute(&a, &sum) != 0) {
        wl_store_aggregates_free(&a);
        wl_cli_fail(CMD, "out of memory");
        goto done;
    }
    if (o.json) {
        rj.status = wl_run_status_name(stored);
        rj.store_error = frc != 0 ? store_err : NULL;
        rj.summary = wl_summary_to_json(&a, &sum);
        print_run_json(&rj);
    } else {
        print_run_text(&rt);
        wl_cli_print_summary(&a, &sum, o.max_layers);
        if (frc == 0)
            printf("\nRun %s stored in %s.\n", id, wl_store_path(st));
        else if (stored == WL_RUN_INCOMPLETE)
            printf("\nRun %s is NOT stored whole in %s: storing it failed (see the error "
                   "above); what was saved before reads as incomplete.\n",
                   id, wl_store_path(st));
        else
            printf("\nRun %s stored in %s as %s: not all of it could be stored (see the error "
                   "above).\n",
                   id, wl_store_path(st), wl_run_status_name(stored));
        printf("See it again: wattlens show %.8s   everything: wattlens export %.8s --format "
               "json\n",
               id, id);
        (void)wl_cli_flush_stdout(CMD); /* a failure: reported here, main exits 1 */
    }
    wl_summary_free(&sum);
    wl_store_aggregates_free(&a);
    status = rc != 0 || frc != 0              ? WL_EXIT_FAIL
             : fin.status == WL_RUN_CANCELLED ? 128 + (g_cancel ? (int)g_cancel : SIGINT)
                                              : WL_EXIT_OK;
done:
    stop_handlers_restore(&sh);
    if (srun)
        wl_store_run_abandon(srun);
    wl_recorder_free(rec);
    for (int32_t i = 0; res && i < n_seq; i++)
        wl_generate_result_free(&res[i]);
    free(res);
    free(seq_prompts);
    wl_store_close(st);
    wl_context_free(ctx);
    wl_tok_free(tok);
    wl_model_free(m);
    free(prov);
    free(tags);
    free(tagbuf);
    free(prompt_all);
    free(texts);
    return status;
}

const struct wl_cli_command wl_cli_cmd_run = {"run",
                                              "profile a generation (energy and time per "
                                              "phase, token, layer, component, op)",
                                              run};
