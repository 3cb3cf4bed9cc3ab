/* `wattlens detokenize`: token ids -> text with a model's tokenizer. Ids come
 * from the arguments (space- or comma-separated) or, when none are given,
 * from stdin, so `wattlens tokenize --ids ... | wattlens detokenize -m M` works.
 * Thin: the work is engine/tokenizer.
 */
#include "cli.h"
#include "cli_ids.h"

#include "engine/tokenizer.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *CMD = "detokenize";

/* The most id text read from stdin: about 200 million ids. A bigger or
 * endless stream is refused once this much is read, never buffered whole. */
#define DETOK_MAX_STDIN_BYTES ((size_t)1 << 30)

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: wattlens detokenize -m FILE.gguf [--special] [--keep-space] [--json] [ID...]\n"
        "\n"
        "Turns token ids back into text with the tokenizer stored in the model's GGUF\n"
        "file. Ids may be separated by spaces or commas; with no ID arguments they are\n"
        "read from stdin (as text, at most 1 GiB: a NUL byte there is an error). The\n"
        "text is written"
        " byte for byte (a trailing newline is added only when stdout is a\n"
        "terminal).\n"
        "\n"
        "Options:\n"
        "  -m, --model FILE   GGUF file with tokenizer.ggml.* metadata (required)\n"
        "      --special      render control tokens (<s>, <|endoftext|>, ...) as text;\n"
        "                     by default they produce nothing\n"
        "      --keep-space   keep the leading space SentencePiece models put before the\n"
        "                     first word (by default it is dropped at the start and after\n"
        "                     BOS or any special token)\n"
        "      --json         {\"text\", \"n_tokens\", \"n_bytes\", \"valid_utf8\"} on stdout;\n"
        "                     text that is not UTF-8 shows U+FFFD and its bytes are\n"
        "                     in \"text_hex\"\n"
        "  -h, --help         show this help\n"
        "\n"
        "Examples:\n"
        "  wattlens detokenize -m model.gguf 15043 3186\n"
        "  wattlens detokenize -m model.gguf 1,15043,3186 --special\n"
        "  wattlens tokenize -m model.gguf -p 'Hello' --ids | wattlens detokenize -m model.gguf\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"special", no_argument, NULL, 's'},
        {"keep-space", no_argument, NULL, 'k'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *model = NULL;
    bool special = false, keep = false, json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 's':
            special = true;
            break;
        case 'k':
            keep = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return WL_EXIT_OK;
        default:
            return wl_cli_option_error(CMD, c, argv, opts);
        }
    }
    struct wl_cli_ids ids = {0};
    const char *bad = NULL;
    size_t bad_len = 0;
    int rc = 0;
    bool from_stdin = optind >= argc;
    char *in = NULL;
    if (!from_stdin) {
        int i = optind;
        for (; i < argc && rc == 0; i++)
            rc = wl_cli_ids_parse(&ids, argv[i], &bad, &bad_len);
        /* a model given without -m (`detokenize model.gguf 1 2`) is no
         * id: say where it goes, as run and bench do, before asking for -m */
        const char *hint =
            rc == WL_EINVAL ? wl_cli_stray_argument_hint(argv[i - 1], WL_CLI_ARGS_IDS) : NULL;
        if (hint) {
            wl_cli_ids_free(&ids);
            return wl_cli_usage_error(CMD, "unexpected argument '%s' (%s)", argv[i - 1], hint);
        }
    }
    if (!model || wl_cli_model_name_empty(CMD, model)) {
        wl_cli_ids_free(&ids);
        return model ? WL_EXIT_USAGE : wl_cli_usage_error(CMD, "-m FILE.gguf is required");
    }
    if (from_stdin) {
        size_t in_len;
        int e = wl_cli_read_all("-", DETOK_MAX_STDIN_BYTES, &in, &in_len);
        if (e == EFBIG)
            return wl_cli_fail(CMD,
                               "the ids on stdin are more than %zu bytes (1 GiB), the most "
                               "detokenize reads",
                               DETOK_MAX_STDIN_BYTES);
        if (e) /* as tokenize -f - says it */
            return wl_cli_fail(CMD, "cannot read '-': %s", strerror(e));
        /* the parser reads a C string: what follows a NUL would be ignored */
        const char *nul = memchr(in, '\0', in_len);
        if (nul) {
            wl_cli_fail(CMD, "invalid input on stdin: a NUL byte at byte %zu (token ids are text)",
                        (size_t)(nul - in));
            free(in);
            return WL_EXIT_USAGE;
        }
        rc = wl_cli_ids_parse(&ids, in, &bad, &bad_len);
    }
    if (rc == WL_EINVAL) {
        /* the bad token, cut between characters; the message is escaped.
         * It is not digits, or it is digits beyond INT32_MAX (a token id is
         * an int32): the range covers both */
        static const char range[] = "integers from 0 to 2147483647";
        char tok[24];
        char *copy = strndup(bad, bad_len);
        wl_utf8_clip(tok, sizeof tok, copy ? copy : "");
        free(copy);
        int r = from_stdin
                    ? (wl_cli_fail(CMD, "invalid token id '%s' on stdin (expected %s)", tok, range),
                       WL_EXIT_USAGE)
                    : wl_cli_usage_error(CMD, "invalid token id '%s' (expected %s)", tok, range);
        free(in);
        wl_cli_ids_free(&ids);
        return r;
    }
    free(in);
    if (rc) {
        wl_cli_ids_free(&ids);
        return wl_cli_fail(CMD, "%s", wl_strerror(rc));
    }

    wl_tokenizer *tok = NULL;
    struct wl_errmsg err = {{0}};
    rc = wl_tok_load_file(model, &tok, &err);
    if (rc) {
        wl_cli_ids_free(&ids);
        return wl_cli_fail(CMD, "%s", err.text); /* err names the file */
    }
    struct wl_tok_info inf;
    wl_tok_get_info(tok, &inf);
    for (size_t i = 0; i < ids.n; i++) {
        if ((uint32_t)ids.v[i] >= inf.n_vocab) {
            int r = wl_cli_fail(CMD, "token id %d is outside the vocabulary (%u tokens)",
                                (int)ids.v[i], inf.n_vocab);
            wl_tok_free(tok);
            wl_cli_ids_free(&ids);
            return r;
        }
    }
    unsigned flags = (special ? WL_DETOK_SPECIAL : 0) | (keep ? WL_DETOK_KEEP_SPACE : 0);
    char *text = NULL;
    size_t len = 0;
    rc = wl_tok_detokenize_alloc(tok, ids.v, ids.n, flags, &text, &len);
    int status = WL_EXIT_OK;
    if (rc) {
        status = wl_cli_fail(CMD, "detokenizing failed: %s", wl_strerror(rc));
    } else if (json) {
        bool lossy = false;
        json_t *jt = wl_json_text(text, len, &lossy);
        json_t *doc =
            jt ? json_pack("{s:o, s:I, s:I, s:b}", "text", jt, "n_tokens", (json_int_t)ids.n,
                           "n_bytes", (json_int_t)len, "valid_utf8", !lossy)
               : NULL;
        /* the exact bytes too, as every JSON output keeps text (util/json_text.h) */
        if (doc && lossy && wl_json_set_hex(doc, "text", text, len) != 0) {
            json_decref(doc);
            doc = NULL;
        }
        status = wl_cli_print_json(doc);
    } else {
        if (len)
            fwrite(text, 1, len, stdout);
        if (wl_cli_stdout_is_tty())
            putchar('\n');
        status = wl_cli_flush_stdout(CMD);
    }
    free(text);
    wl_cli_ids_free(&ids);
    wl_tok_free(tok);
    return status;
}

const struct wl_cli_command wl_cli_cmd_detokenize = {
    "detokenize", "turn token ids back into text with a model's tokenizer", run};
