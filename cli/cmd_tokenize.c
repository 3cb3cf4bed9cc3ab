/* `wattlens tokenize`: text -> token ids with a model's tokenizer, with the
 * tokenizer profile (lookups, merges, cache hit rate, tokens/s, MB/s) on
 * request. Thin: parsing options and printing; the work is engine/tokenizer.
 */
#include "cli.h"
#include "cli_text.h"

#include "engine/tokenizer.h"
#include "util/clock.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *CMD = "tokenize";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens tokenize -m FILE.gguf (-p TEXT | -f FILE) [--ids | --pieces]\n"
            "                         [--no-bos] [--eos] [--special] [--stats] [--json]\n"
            "\n"
            "Turns text into the token ids a model was trained on, using the tokenizer stored\n"
            "in the model's GGUF file (SentencePiece 'llama' or byte-level BPE 'gpt2' with its\n"
            "pre-tokenizer). Results match llama.cpp's tokenizer. By default the ids are\n"
            "those generate and run feed the model for the same text (with --special):\n"
            "BOS when the model asks for it, never EOS.\n"
            "\n"
            "Options:\n"
            "  -m, --model FILE   GGUF file with tokenizer.ggml.* metadata (required)\n"
            "  -p, --prompt TEXT  text to tokenize\n"
            "  -f, --file FILE    read the text from FILE ('-' = stdin), byte for byte;\n"
            "                     at most 1 GiB\n"
            "      --ids          print only the ids, separated by single spaces\n"
            "      --pieces       print only the pieces, one quoted string per line\n"
            "      --no-bos       do not prepend BOS even if the model asks for it\n"
            "      --eos          append EOS when the model asks for it\n"
            "                     (tokenizer.ggml.add_eos_token), as llama.cpp's\n"
            "                     llama-tokenize does; generate and run do not\n"
            "      --special      recognise control tokens written in the text (e.g. <s>,\n"
            "                     <|endoftext|>), as generate and run always do with their\n"
            "                     prompt; user-defined tokens are always recognised\n"
            "      --stats        tokenizer profile on stderr: vocabulary and merge-rank\n"
            "                     lookups, merges, word-cache hit rate, tokens/s, MB/s\n"
            "      --json         one JSON document on stdout (tokens, tokenizer, stats;\n"
            "                     tokenizer.add_bos / add_eos: whether BOS / EOS are\n"
            "                     added); text that is not UTF-8 (the model path, a\n"
            "                     piece that is part of a character) shows U+FFFD, its\n"
            "                     bytes in <field>_hex; stats.bytes_replaced and\n"
            "                     stats.bytes_dropped count the input bytes not\n"
            "                     tokenized as given (also a warning on stderr)\n"
            "  -h, --help         show this help\n"
            "\n"
            "Default output: one line per token, 'ID<TAB>\"piece\"', pieces escaped like C\n"
            "strings (\\n, \\t, \\xNN for other control bytes and for bytes that are not\n"
            "valid UTF-8 on their own, \\u00NN for C1 control characters).\n"
            "\n"
            "Examples:\n"
            "  wattlens tokenize -m model.gguf -p 'Hello world'\n"
            "  wattlens tokenize -m model.gguf -p 'Hello world' --ids --no-bos\n"
            "  wattlens tokenize -m model.gguf -p 'query' --ids --eos   # as llama-tokenize\n"
            "  wattlens tokenize -m model.gguf -f prompt.txt --stats\n"
            "  wattlens tokenize -m model.gguf -p '<s>Hi</s>' --special --json\n");
}

/* file NULL: the -p text */
/* len 0: a stream of unknown size, cut after the limit */
static int too_long(const char *file, uint64_t len)
{
    char size[48];
    if (len)
        snprintf(size, sizeof size, "%" PRIu64 " bytes", len);
    else
        snprintf(size, sizeof size, "more than %zu bytes", WL_TOK_MAX_TEXT_BYTES);
    return wl_cli_fail(CMD, "%s%s%s is %s: the tokenizer takes at most %zu bytes (1 GiB) per text",
                       file ? "'" : "", file ? file : "the text", file ? "'" : "", size,
                       WL_TOK_MAX_TEXT_BYTES);
}

static void print_escaped(FILE *out, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t l = wl_utf8_char_len(p + i, n - i);
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (l == 0 || c < 0x20 || c == 0x7F) {
            fprintf(out, "\\x%02X", c);
            l = 1;
        } else if (l == 2 && c == 0xC2 && s[i + 1] < 0xA0) {
            /* a C1 control (U+0080-U+009F; U+009B is CSI to some terminals) */
            fprintf(out, "\\u%04X", s[i + 1]);
        } else {
            fwrite(s + i, 1, l, out);
        }
        i += l ? l : 1;
    }
    fputc('"', out);
}

static json_t *stats_json(const struct wl_tok_stats *s)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
        " s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
        "calls", (json_int_t)s->n_calls, "bytes", (json_int_t)s->n_bytes, "tokens",
        (json_int_t)s->n_tokens, "special_tokens", (json_int_t)s->n_special, "fragments",
        (json_int_t)s->n_fragments, "words", (json_int_t)s->n_words, "symbols",
        (json_int_t)s->n_symbols, "vocab_lookups", (json_int_t)s->n_lookups, "rank_lookups",
        (json_int_t)s->n_rank_lookups, "merge_candidates", (json_int_t)s->n_candidates, "merges",
        (json_int_t)s->n_merges, "stale_candidates", (json_int_t)s->n_stale, "byte_fallback",
        (json_int_t)s->n_byte_fallback, "bytes_dropped", (json_int_t)s->n_bytes_dropped,
        "bytes_replaced", (json_int_t)s->n_bytes_replaced, "cache_hits",
        (json_int_t)s->n_cache_hits, "cache_misses", (json_int_t)s->n_cache_misses,
        "cache_hit_rate", wl_tok_stats_cache_hit_rate(s), "total_ms", s->t_total_ns / 1e6, "cpu_ms",
        s->t_cpu_ns / 1e6, "special_ms", s->t_special_ns / 1e6, "pretokenize_ms",
        s->t_pretok_ns / 1e6, "merge_ms", s->t_merge_ns / 1e6, "tokens_per_s",
        wl_tok_stats_tokens_per_s(s), "mb_per_s", wl_tok_stats_mb_per_s(s), "mb_per_cpu_s",
        wl_tok_stats_mb_per_cpu_s(s));
}

static void stats_print(FILE *out, const struct wl_tok_info *inf, const struct wl_tok_stats *s)
{
    char pre[256]; /* the model file's name for it, escaped: any bytes with SPM */
    fprintf(out, "tokenizer: %s (pre-tokenizer %s), %u tokens, %u merges, loaded in %.2f ms\n",
            inf->model_name, wl_cli_text(inf->pre_name, pre, sizeof pre), inf->n_vocab,
            inf->n_merges, inf->load_ns / 1e6);
    fprintf(out, "input: %llu bytes -> %llu tokens (%.2f bytes/token), %llu special, %llu words\n",
            (unsigned long long)s->n_bytes, (unsigned long long)s->n_tokens,
            s->n_tokens ? (double)s->n_bytes / (double)s->n_tokens : 0.0,
            (unsigned long long)s->n_special, (unsigned long long)s->n_words);
    fprintf(out, "time: %.3f ms wall, %.3f ms CPU (special %.3f, pre-tokenize %.3f, merge %.3f)\n",
            s->t_total_ns / 1e6, s->t_cpu_ns / 1e6, s->t_special_ns / 1e6, s->t_pretok_ns / 1e6,
            s->t_merge_ns / 1e6);
    fprintf(out, "throughput: %.0f tokens/s, %.2f MB/s wall; %.2f MB/s per CPU second\n",
            wl_tok_stats_tokens_per_s(s), wl_tok_stats_mb_per_s(s), wl_tok_stats_mb_per_cpu_s(s));
    fprintf(out,
            "lookups: %llu vocabulary, %llu merge-rank; merge candidates %llu, merges %llu, "
            "stale %llu\n",
            (unsigned long long)s->n_lookups, (unsigned long long)s->n_rank_lookups,
            (unsigned long long)s->n_candidates, (unsigned long long)s->n_merges,
            (unsigned long long)s->n_stale);
    fprintf(out, "byte fallback: %llu tokens, %llu bytes dropped, %llu replaced by U+FFFD\n",
            (unsigned long long)s->n_byte_fallback, (unsigned long long)s->n_bytes_dropped,
            (unsigned long long)s->n_bytes_replaced);
    if (s->n_cache_hits + s->n_cache_misses)
        fprintf(out, "word cache: %llu hits, %llu misses (%.1f%% hit rate)\n",
                (unsigned long long)s->n_cache_hits, (unsigned long long)s->n_cache_misses,
                100.0 * wl_tok_stats_cache_hit_rate(s));
    else /* SentencePiece and BPE both cache every word short enough */
        fprintf(out, "word cache: not used (%s)\n",
                s->n_words ? "every word is too long to cache" : "no words to merge");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"prompt", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},  {"ids", no_argument, NULL, 'i'},
        {"pieces", no_argument, NULL, 'P'},      {"no-bos", no_argument, NULL, 'b'},
        {"eos", no_argument, NULL, 'e'},         {"special", no_argument, NULL, 's'},
        {"stats", no_argument, NULL, 'S'},       {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool ids_only = false, pieces_only = false, no_bos = false, eos = false, special = false,
         stats = false, json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:p:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            prompt = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'i':
            ids_only = true;
            break;
        case 'P':
            pieces_only = true;
            break;
        case 'b':
            no_bos = true;
            break;
        case 'e':
            eos = true;
            break;
        case 's':
            special = true;
            break;
        case 'S':
            stats = true;
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
    if (optind < argc)
        return wl_cli_usage_error(CMD, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_TEXT));
    if (!model)
        return wl_cli_usage_error(CMD, "-m FILE.gguf is required");
    if (!prompt == !file)
        return wl_cli_usage_error(CMD, "give exactly one of -p TEXT or -f FILE");
    if (wl_cli_model_name_empty(CMD, model))
        return WL_EXIT_USAGE;
    if (file && !*file)
        return wl_cli_usage_error(CMD, "-f is empty: give a file name ('-' is stdin)");
    if (ids_only && pieces_only)
        return wl_cli_usage_error(CMD, "--ids and --pieces exclude each other");
    if (json && (ids_only || pieces_only))
        return wl_cli_usage_error(CMD, "--json cannot be combined with --ids or --pieces");

    char *text = NULL;
    size_t len = 0;
    if (file) {
        /* a regular file over the limit is refused before it is read, a
         * pipe after limit + 1 bytes: never a buffer of the whole stream */
        int rc = wl_cli_read_all(file, WL_TOK_MAX_TEXT_BYTES, &text, &len);
        if (rc == EFBIG)
            return too_long(file, len);
        if (rc)
            return wl_cli_fail(CMD, "cannot read '%s': %s", file, strerror(rc));
    } else {
        len = strlen(prompt);
    }
    if (len > WL_TOK_MAX_TEXT_BYTES) {
        free(text);
        return too_long(file, len);
    }

    wl_tokenizer *tok = NULL;
    struct wl_errmsg err = {{0}};
    int rc = wl_tok_load_file(model, &tok, &err);
    if (rc) {
        free(text);
        return wl_cli_fail(CMD, "%s", err.text); /* err names the file */
    }
    struct wl_tok_info inf;
    wl_tok_get_info(tok, &inf);

    /* as generate and run tokenize a prompt: BOS, no EOS (an end-of-text
     * token at the end of a prompt is not something to continue from) */
    unsigned flags = (no_bos ? 0 : WL_TOK_ADD_BOS) | (eos ? WL_TOK_ADD_EOS : 0) |
                     (special ? WL_TOK_PARSE_SPECIAL : 0);
    struct wl_tok_stats st = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    rc = wl_tok_tokenize_alloc(tok, file ? text : prompt, len, flags, &ids, &n, &st);
    if (rc) {
        wl_tok_free(tok);
        free(text);
        return wl_cli_fail(CMD, "tokenizing failed: %s", wl_strerror(rc));
    }

    /* the ids are not those of the text as given: said whatever the output */
    char changed[256];
    if (wl_tok_stats_input_changed(&st, changed, sizeof changed))
        wl_cli_note(CMD, "warning: %s", changed);

    int status = WL_EXIT_OK;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
            const char *p;
            size_t pl;
            bool lossy = false;
            wl_tok_token_piece(tok, ids[i], WL_DETOK_SPECIAL, &p, &pl);
            json_t *o =
                json_pack("{s:i, s:o}", "id", (int)ids[i], "piece", wl_json_text(p, pl, &lossy));
            /* a piece can be part of a character: its bytes as piece_hex */
            if (o && lossy &&
                (json_object_set_new(o, "piece_is_partial_utf8", json_true()) != 0 ||
                 wl_json_set_hex(o, "piece", p, pl) != 0)) {
                json_decref(o);
                o = NULL;
            }
            if (!o || json_array_append_new(arr, o) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        /* the path (any bytes) and the pre-tokenizer name (a SentencePiece
         * file's own string) need not be UTF-8: U+FFFD and <field>_hex
         * (util/json_text.h); a failure is out of memory, doc NULL */
        json_t *doc = json_object(), *tj = json_pack("{s:s}", "type", inf.model_name);
        bool built = doc && tj && arr && wl_json_set_text(doc, "model", model) == 0 &&
                     wl_json_set_text(tj, "pre", inf.pre_name) == 0 &&
                     json_object_update_new(
                         tj, json_pack("{s:i, s:i, s:b, s:b, s:b, s:b, s:f}", "n_vocab",
                                       (int)inf.n_vocab, "n_merges", (int)inf.n_merges, "add_bos",
                                       inf.add_bos && !no_bos, "add_eos", inf.add_eos && eos,
                                       "add_space_prefix", inf.add_space_prefix, "parse_special",
                                       special, "load_ms", inf.load_ns / 1e6)) == 0;
        if (built) {
            built = json_object_set_new(doc, "tokenizer", tj) == 0;
            tj = NULL;
        }
        if (built)
            built = json_object_set_new(doc, "n_tokens", json_integer((json_int_t)n)) == 0;
        if (built) {
            built = json_object_set_new(doc, "tokens", arr) == 0;
            arr = NULL;
        }
        if (built)
            built = json_object_set_new(doc, "stats", stats_json(&st)) == 0;
        if (!built) {
            json_decref(doc);
            doc = NULL;
        }
        json_decref(tj);
        json_decref(arr);
        status = wl_cli_print_json(doc);
    } else if (ids_only) {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    } else {
        for (size_t i = 0; i < n; i++) {
            const char *p;
            size_t pl;
            wl_tok_token_piece(tok, ids[i], WL_DETOK_SPECIAL, &p, &pl);
            if (!pieces_only)
                printf("%d\t", (int)ids[i]);
            print_escaped(stdout, p, pl);
            putchar('\n');
        }
    }
    if (stats && !json)
        stats_print(stderr, &inf, &st);
    if (status == WL_EXIT_OK)
        status = wl_cli_flush_stdout(CMD);
    free(ids);
    free(text);
    wl_tok_free(tok);
    return status;
}

const struct wl_cli_command wl_cli_cmd_tokenize = {
    "tokenize", "turn text into token ids with a model's tokenizer (with --stats profile)", run};
