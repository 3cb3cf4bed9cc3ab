/* `wattlens bench`: prompt-processing and generation throughput of the
 * engine, printed with llama-bench's test names (pp512, tg128), columns and
 * formats (md, csv, json) so the numbers can be compared side by side.
 * The measurement itself is engine/bench.c.
 */
#include "cli.h"

#include "engine/bench.h"
#include "engine/context.h"
#include "engine/model.h"
#include "engine/threadpool.h"
#include "util/clock.h"
#include "util/csv_text.h"
#include "util/hugepage.h"
#include "util/json_text.h"
#include "util/utf8.h"
#include "wattlens/error.h"
#include "wattlens/wattlens.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "bench";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wattlens bench -m FILE [-p N] [-n N] [-r N] [-t THREADS] [-o md|csv|json]\n"
            "\n"
            "Measures the engine's prompt processing (ppN: an N-token prompt in batches)\n"
            "and text generation (tgN: N tokens, one decode step each) in tokens/s, as\n"
            "mean +- standard deviation over repetitions. Test names, columns and output\n"
            "formats follow llama-bench, so results can be compared with it directly.\n"
            "Token ids are pseudo-random from a fixed seed; each test has one untimed\n"
            "warm-up run. As in llama-bench, size (model_size) is the data bytes of every\n"
            "tensor in the file (not the file size: no header, metadata or padding),\n"
            "params (model_n_params) their elements, and the model (model_type) is\n"
            "'ARCH SIZE FTYPE', e.g. 'llama 1B Q8_0': llama.cpp's size class from its\n"
            "table of layer counts ('?B' when it has none, as for small models) and the\n"
            "name of general.file_type (without it, llama.cpp's guess from the tensor\n"
            "types, as 'all F32 (guessed)'). csv and json have llama-bench's fields (as of\n"
            "mid-2025; the settings this CPU engine lacks, such as split_mode or poll, at\n"
            "llama-bench's defaults, flash_attn 0, use_mmap 1), then n_seq; json's objects\n"
            "also have llama-bench's samples_ns and samples_ts (each repetition's time\n"
            "and t/s) after stddev_ts, before n_seq.\n"
            "\n"
            "Options:\n"
            "  -m, --model FILE      GGUF model (required)\n"
            "  -p, --n-prompt N      prompt tokens for the pp test (default 512; 0 = skip)\n"
            "  -n, --n-gen N         generated tokens for the tg test (default 128; 0 = skip)\n"
            "  -r, --repetitions N   repetitions of each test (default 5)\n"
            "  -t, --threads N       threads (default: the CPUs wattlens may run on)\n"
            "  -o, --output FMT      md (default), csv or json (in json a model path or CPU\n"
            "                        name that is not UTF-8 shows U+FFFD, and <field>_hex\n"
            "                        has its bytes; csv keeps the bytes, escaped on a terminal)\n"
            "      --json            same as -o json\n"
            "  -ub, --ubatch-size N  prompt tokens per forward batch (default 64); csv and\n"
            "                        json's n_batch and n_ubatch are the batch the engine\n"
            "                        ran: N, raised to --batch's count and at most\n"
            "                        max(-p, -n) x --batch (the context's positions); md\n"
            "                        has an n_ubatch column, as llama-bench, when N is not 64\n"
            "  -ctk, --cache-type T  KV cache type: f16 (default) or f32 (md then adds\n"
            "                        type_k and type_v columns, as llama-bench)\n"
            "      --no-warmup       skip the warm-up runs\n"
            "      --batch N         run N sequences together (default 1): ppP runs N prompts\n"
            "                        of P tokens in one prefill, tgG runs G decode steps of N\n"
            "                        tokens (weights read once per step for all); the test\n"
            "                        is named 'tgG xN' and t/s counts the whole batch\n"
            "                        (csv and json: column n_seq, 1 without --batch)\n"
            "  -v, --verbose         progress per repetition on stderr, and how much of the\n"
            "                        model is on 2 MiB pages (decode reads 4 KiB pages ~3 %%\n"
            "                        slower; a note says how to fix it when most of it is);\n"
            "                        'wattlens -q bench -v' prints neither (-q wins)\n"
            "  -h, --help            show this help\n"
            "\n"
            "Examples:\n"
            "  wattlens bench -m model.gguf\n"
            "  wattlens bench -m model.gguf -p 512 -n 128 -r 3 -t 2 -o json\n"
            "  wattlens bench -m model.gguf -p 0 -n 64 -o csv > tg.csv\n"
            "  for b in 1 4 16; do wattlens bench -m model.gguf -p 0 -n 32 --batch $b; done\n");
}

struct info {
    char model_type[96];
    char cpu[128];
    const char *filename;
    uint64_t size;
    uint64_t n_params;
    int threads;
    const char *type_k;
    /* the md table's conditional columns, shown as llama-bench shows them
     * when the setting is not the default: n_ubatch when -ub asked for a
     * batch other than the context's default, type_k and type_v when -ctk
     * is not f16 (it sets both) */
    bool show_ubatch, show_types;
};

static void time_iso(int64_t s, char *buf, size_t size)
{
    wl_clock_format_iso8601(s * 1000000000LL, buf, (unsigned long)size);
}

/* Prints s right-aligned in width display columns. */
static void print_right(const char *s, size_t width)
{
    for (size_t w = wl_utf8_width(s, strlen(s)); w < width; w++)
        putchar(' ');
    fputs(s, stdout);
}

/* llama-bench's md table (markdown_printer in tools/llama-bench/
 * llama-bench.cpp): its column widths (model -30, size and params 10,
 * backend -10, threads 7, n_ubatch 8, type_k and type_v 6, test 15, t/s 20;
 * negative: left-aligned) and alignment row, in display columns rather than
 * bytes: its "%-30s" model column counts bytes, and the "±" of t/s is two
 * bytes in one column (llama-bench adds one to that column's width for
 * it). n_ubatch, type_k and type_v are llama-bench's conditional columns,
 * in its order after threads, printed only when the setting is not the
 * default (struct info); n_ubatch's cells are the batch the engine ran, as
 * in csv. llama-bench never cuts the model; a longer one pushes the rest of
 * its row out of line. The rows are all known here, so the column widens to
 * the widest model instead: every row is as wide as the header, and nothing
 * is cut. A '|' in the model is written "\|" (GitHub Markdown's escape;
 * llama-bench leaves it bare, which splits the cell) and counts two
 * columns. llama-bench's "build: COMMIT (NUMBER)" footer is not printed. */
static void print_md(const struct info *in, const struct wl_bench_result *r, int n)
{
    enum { MODEL_W = 30, UBATCH_W = 8, TYPE_W = 6, TEST_W = 15, TS_W = 20 };
    char model[2 * sizeof in->model_type]; /* each '|' becomes two bytes */
    wl_utf8_md_escape(model, sizeof model, in->model_type);
    size_t mw = wl_utf8_width(model, strlen(model));
    if (mw < MODEL_W)
        mw = MODEL_W;
    char cell[4 * sizeof model + 4 * MODEL_W]; /* U+FFFD is 3 bytes for 1 */
    printf("| %s | %10s | %10s | %-10s | %7s |", wl_utf8_cell("model", mw, true, cell, sizeof cell),
           "size", "params", "backend", "threads");
    if (in->show_ubatch)
        printf(" %*s |", UBATCH_W, "n_ubatch");
    if (in->show_types)
        printf(" %*s | %*s |", TYPE_W, "type_k", TYPE_W, "type_v");
    printf(" %*s | %*s |\n", TEST_W, "test", TS_W, "t/s");
    printf("| ");
    for (size_t i = 0; i < mw; i++)
        putchar('-');
    printf(" | ---------: | ---------: | ---------- | ------: |");
    if (in->show_ubatch)
        printf(" -------: |");
    if (in->show_types)
        printf(" -----: | -----: |");
    printf(" --------------: | -------------------: |\n");
    for (int i = 0; i < n; i++) {
        char size[32], params[32], ts[48];
        snprintf(size, sizeof size, "%.2f MiB", (double)in->size / (1024.0 * 1024.0));
        if ((double)in->size >= 1024.0 * 1024.0 * 1024.0)
            snprintf(size, sizeof size, "%.2f GiB", (double)in->size / (1024.0 * 1024.0 * 1024.0));
        if (in->n_params >= 1000000000ull)
            snprintf(params, sizeof params, "%.2f B", (double)in->n_params / 1e9);
        else
            snprintf(params, sizeof params, "%.2f M", (double)in->n_params / 1e6);
        snprintf(ts, sizeof ts, "%.2f ± %.2f", r[i].avg_ts, r[i].stddev_ts);
        printf("| %s | %10s | %10s | %-10s | %7d |",
               wl_utf8_cell(model, mw, true, cell, sizeof cell), size, params, "CPU", in->threads);
        if (in->show_ubatch)
            printf(" %*d |", UBATCH_W, r[i].n_ubatch);
        if (in->show_types)
            printf(" %*s | %*s |", TYPE_W, in->type_k, TYPE_W, in->type_k);
        printf(" %*s | ", TEST_W, r[i].test);
        print_right(ts, TS_W);
        printf(" |\n");
    }
}

/* One CSV field, quoted as llama-bench quotes every field, with each '"'
 * doubled (RFC 4180), so a comma, a quote or a line break in a path or a
 * CPU name stays inside its field. To a file or a pipe the bytes are
 * written as they are, UTF-8 or not: CSV has no escapes, and a reader gets
 * the exact text. On a terminal (tty) they are escaped as the md table's
 * are, so an ESC in a model path does not drive the terminal. */
static void print_csv_text(const char *s, bool tty)
{
    wl_csv_put(stdout, s, strlen(s), WL_CSV_QUOTE_ALWAYS | (tty ? WL_CSV_ESCAPE : 0));
}

/* llama-bench's columns in its order (tools/llama-bench/llama-bench.cpp,
 * test::get_fields, as of mid-2025: the fields scripts/compare-llama-bench.py
 * stores), then n_seq (sequences run together, 1 without --batch): appended
 * so every llama-bench column keeps its place, while a batched row still
 * says what its t/s counts. The settings this CPU engine does not have are
 * written as llama-bench writes its defaults (BENCH_FIXED_*), so a row
 * matches a CPU-only llama-bench row on them; flash_attn 0 and use_mmap 1
 * are facts (no flash attention; the model file is mapped). */
#define BENCH_FIXED_CPU "\"0x0\",\"0\",\"50\"" /* cpu_mask, cpu_strict, poll */
/* split_mode, main_gpu, no_kv_offload, flash_attn, tensor_split,
 * tensor_buft_overrides, use_mmap, embeddings, no_op_offload */
#define BENCH_FIXED_GPU "\"layer\",\"0\",\"0\",\"0\",\"0.00\",\"none\",\"1\",\"0\",\"0\""

static void print_csv(const struct info *in, const struct wl_bench_result *r, int n)
{
    printf("build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,"
           "model_size,model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,"
           "type_v,n_gpu_layers,split_mode,main_gpu,no_kv_offload,flash_attn,tensor_split,"
           "tensor_buft_overrides,use_mmap,embeddings,no_op_offload,n_prompt,n_gen,n_depth,"
           "test_time,avg_ns,stddev_ns,avg_ts,stddev_ts,n_seq\n");
    const bool tty = isatty(fileno(stdout)) == 1;
    for (int i = 0; i < n; i++) {
        char t[32];
        time_iso(r[i].test_time_s, t, sizeof t);
        printf("\"wattlens-%s\",\"0\",", wl_version());
        print_csv_text(in->cpu, tty);
        printf(",\"\",\"CPU\",");
        print_csv_text(in->filename, tty);
        putchar(',');
        print_csv_text(in->model_type, tty);
        printf(",\"%llu\",\"%llu\",\"%d\",\"%d\",\"%d\"," BENCH_FIXED_CPU
               ",\"%s\",\"%s\",\"0\"," BENCH_FIXED_GPU
               ",\"%d\",\"%d\",\"0\",\"%s\",\"%llu\",\"%llu\",\"%.6f\",\"%.6f\","
               "\"%d\"\n",
               (unsigned long long)in->size, (unsigned long long)in->n_params, r[i].n_ubatch,
               r[i].n_ubatch, in->threads, in->type_k, in->type_k, r[i].n_prompt, r[i].n_gen, t,
               (unsigned long long)r[i].avg_ns, (unsigned long long)r[i].stddev_ns, r[i].avg_ts,
               r[i].stddev_ts, r[i].n_batch);
    }
}

static int print_json(const struct info *in, const struct wl_bench_result *r, int n)
{
    json_t *arr = json_array();
    char ver[64];
    snprintf(ver, sizeof ver, "wattlens-%s", wl_version());
    for (int i = 0; i < n; i++) {
        char t[32];
        time_iso(r[i].test_time_s, t, sizeof t);
        json_t *o = json_object();
        json_t *sns = json_array(), *sts = json_array();
        for (int k = 0; k < r[i].reps; k++) {
            json_array_append_new(sns, json_integer((json_int_t)r[i].samples_ns[k]));
            json_array_append_new(sts, json_real(r[i].samples_ts[k]));
        }
        json_object_set_new(o, "build_commit", json_string(ver));
        json_object_set_new(o, "build_number", json_integer(0));
        /* text from the system, the command line and the model file need not
         * be UTF-8: then also <field>_hex (util/json_text.h) */
        wl_json_set_text(o, "cpu_info", in->cpu);
        json_object_set_new(o, "gpu_info", json_string(""));
        json_object_set_new(o, "backends", json_string("CPU"));
        wl_json_set_text(o, "model_filename", in->filename);
        wl_json_set_text(o, "model_type", in->model_type);
        json_object_set_new(o, "model_size", json_integer((json_int_t)in->size));
        json_object_set_new(o, "model_n_params", json_integer((json_int_t)in->n_params));
        json_object_set_new(o, "n_batch", json_integer(r[i].n_ubatch));
        json_object_set_new(o, "n_ubatch", json_integer(r[i].n_ubatch));
        json_object_set_new(o, "n_threads", json_integer(in->threads));
        /* the fixed settings as in print_csv, typed as llama-bench's json
         * printer types them (test::get_field_type: bools, ints, strings) */
        json_object_set_new(o, "cpu_mask", json_string("0x0"));
        json_object_set_new(o, "cpu_strict", json_false());
        json_object_set_new(o, "poll", json_integer(50));
        json_object_set_new(o, "type_k", json_string(in->type_k));
        json_object_set_new(o, "type_v", json_string(in->type_k));
        json_object_set_new(o, "n_gpu_layers", json_integer(0));
        json_object_set_new(o, "split_mode", json_string("layer"));
        json_object_set_new(o, "main_gpu", json_integer(0));
        json_object_set_new(o, "no_kv_offload", json_false());
        json_object_set_new(o, "flash_attn", json_false());
        json_object_set_new(o, "tensor_split", json_string("0.00"));
        json_object_set_new(o, "tensor_buft_overrides", json_string("none"));
        json_object_set_new(o, "use_mmap", json_true());
        json_object_set_new(o, "embeddings", json_false());
        json_object_set_new(o, "no_op_offload", json_integer(0));
        json_object_set_new(o, "n_prompt", json_integer(r[i].n_prompt));
        json_object_set_new(o, "n_gen", json_integer(r[i].n_gen));
        json_object_set_new(o, "n_depth", json_integer(0));
        json_object_set_new(o, "test_time", json_string(t));
        json_object_set_new(o, "avg_ns", json_integer((json_int_t)r[i].avg_ns));
        json_object_set_new(o, "stddev_ns", json_integer((json_int_t)r[i].stddev_ns));
        json_object_set_new(o, "avg_ts", json_real(r[i].avg_ts));
        json_object_set_new(o, "stddev_ts", json_real(r[i].stddev_ts));
        json_object_set_new(o, "samples_ns", sns);
        json_object_set_new(o, "samples_ts", sts);
        /* after every llama-bench field, samples included, as in print_csv */
        json_object_set_new(o, "n_seq", json_integer(r[i].n_batch));
        json_array_append_new(arr, o);
    }
    return wl_cli_print_json(arr);
}

static void on_progress(void *ud, const char *test, int rep)
{
    if (*(bool *)ud)
        fprintf(stderr, "wattlens bench: %s repetition %d\n", test, rep + 1);
}

/* How much of the model file's mapping is on 2 MiB pages, after the run
 * touched it: always with -v; otherwise a note and the remedy when less
 * than half is, on a kernel that does cache files on 2 MiB pages. A file
 * whose page cache was filled by a write, a copy or read() stays on 4 KiB
 * pages until those pages are dropped (util/hugepage.h). */
static void weight_pages_note(const wl_model *m, const char *path, bool verbose)
{
    uint64_t res = 0, huge = 0, file_huge = 0;
    if (wl_model_weight_pages(m, &res, &huge) != 0 || res == 0)
        return;
    const double pct = 100.0 * (double)huge / (double)res;
    if (wl_cli_quiet()) /* -q wins over -v */
        return;
    if (verbose)
        fprintf(stderr, "wattlens bench: weights: %.1f MiB resident, %.0f %% on 2 MiB pages\n",
                (double)res / 1048576.0, pct);
    /* below a few 2 MiB pages the share says nothing (the ends of a file
     * never fill one) */
    if (pct >= 50.0 || res < ((uint64_t)8 << 20) || wl_hugepage_file_cache_bytes(&file_huge) != 0 ||
        file_huge == 0)
        return;
    /* a path the shell line cannot quote as is is left for the user to fill in */
    const char *shown = strchr(path, '\'') ? "FILE" : path;
    fprintf(stderr,
            "wattlens bench: note: only %.0f %% of the model's pages are 2 MiB pages; its page\n"
            "  cache was filled by a write, a copy or plain reads, and decode reads 4 KiB pages\n"
            "  more slowly (~3 %% in paired runs). To have it read in again on 2 MiB pages:\n"
            "    sync '%s' && dd if='%s' iflag=nocache count=0\n",
            pct, shown, shown);
}

/* llama-bench spells two options with a single dash and two letters; they
 * are rewritten to these long options before getopt sees them (the
 * pointers tell a rewritten argument from a typed long option) */
static char ub_long[] = "--ubatch-size", ctk_long[] = "--cache-type";
static char ub_short[] = "-ub", ctk_short[] = "-ctk";

/* The spelling typed of the option with a value getopt just returned:
 * "-ub" for an argument rewritten to --ubatch-size, else the option as
 * given ("--ubat" for a prefix, "--ubatch-size" of "--ubatch-size=0"), in
 * buf. */
static const char *typed_option(char **argv, char *buf, size_t size)
{
    const char *opt = optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
    if (opt == ub_long || opt == ctk_long)
        return opt == ub_long ? ub_short : ctk_short;
    snprintf(buf, size, "%.*s", (int)strcspn(opt, "="), opt);
    return buf;
}

static int run(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-ub") == 0)
            argv[i] = ub_long;
        else if (strcmp(argv[i], "-ctk") == 0)
            argv[i] = ctk_long;
    }
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"n-prompt", required_argument, NULL, 'p'},
        {"n-gen", required_argument, NULL, 'n'},
        {"repetitions", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"ubatch-size", required_argument, NULL, 'U'},
        {"cache-type", required_argument, NULL, 'K'},
        {"no-warmup", no_argument, NULL, 'W'},
        {"json", no_argument, NULL, 'J'},
        {"batch", required_argument, NULL, 'B'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct wl_bench_params p = wl_bench_default_params();
    const char *model = NULL, *fmt = "md";
    bool verbose = false;
    long v;
    char typed[64]; /* an option's spelling for its message */
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:p:n:r:t:o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            if (!wl_cli_parse_long(CMD, "-p", optarg, 0, 1 << 20, &v))
                return WL_EXIT_USAGE;
            p.n_prompt = (int32_t)v;
            break;
        case 'n':
            if (!wl_cli_parse_long(CMD, "-n", optarg, 0, 1 << 20, &v))
                return WL_EXIT_USAGE;
            p.n_gen = (int32_t)v;
            break;
        case 'r':
            if (!wl_cli_parse_long(CMD, "-r", optarg, 1, WL_BENCH_MAX_REPS, &v))
                return WL_EXIT_USAGE;
            p.reps = (int32_t)v;
            break;
        case 't':
            if (!wl_cli_parse_long(CMD, "-t", optarg, 1, 256, &v))
                return WL_EXIT_USAGE;
            p.n_threads = (int32_t)v;
            break;
        case 'U':
            if (!wl_cli_parse_long(CMD, typed_option(argv, typed, sizeof typed), optarg, 1, 1 << 16,
                                   &v))
                return WL_EXIT_USAGE;
            p.n_ubatch = (int32_t)v;
            break;
        case 'K':
            if (!wl_cli_parse_cache_type(CMD, typed_option(argv, typed, sizeof typed), optarg,
                                         &p.kv_type))
                return WL_EXIT_USAGE;
            break;
        case 'o':
            fmt = optarg;
            if (strcmp(fmt, "md") != 0 && strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0)
                return wl_cli_usage_error(CMD, "output format must be md, csv or json, not '%s'", fmt);
            break;
        case 'W':
            p.warmup = false;
            break;
        case 'J':
            fmt = "json";
            break;
        case 'B':
            if (!wl_cli_parse_long(CMD, "--batch", optarg, 1, WL_CONTEXT_MAX_SEQ, &v))
                return WL_EXIT_USAGE;
            p.n_batch = (int32_t)v;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            wl_cli_print_help(usage);
            return WL_EXIT_OK;
        default: {
            /* a rewritten option is named as typed */
            const char *last = optind > 0 ? argv[optind - 1] : NULL;
            return wl_cli_option_error_typed(CMD, c, argv, opts,
                                             last == ub_long    ? ub_short
                                             : last == ctk_long ? ctk_short
                                                                : NULL);
        }
        }
    }
    if (optind < argc)
        return wl_cli_usage_error(CMD, "unexpected argument '%s' (%s)", argv[optind],
                                  wl_cli_stray_argument_hint(argv[optind], WL_CLI_ARGS_VALUES));
    if (!model)
        return wl_cli_usage_error(CMD, "a model is required (-m FILE)");
    if (wl_cli_model_name_empty(CMD, model))
        return WL_EXIT_USAGE;
    if (p.n_prompt == 0 && p.n_gen == 0)
        return wl_cli_usage_error(CMD, "nothing to run: -p and -n are both 0");

    if (wl_cli_quiet()) /* 'wattlens -q bench -v': -q wins, stderr gets errors only */
        verbose = false;
    struct wl_errmsg err = {{0}};
    wl_model *m = NULL;
    int rc = wl_model_load(model, &m, &err);
    if (rc != 0)
        return wl_cli_fail(CMD, "%s", err.text);
    struct info in = {.filename = model,
                      .type_k = p.kv_type == WL_TTYPE_F32 ? "f32" : "f16",
                      .show_ubatch =
                          p.n_ubatch > 0 && p.n_ubatch != wl_context_default_params().n_ubatch,
                      .show_types = p.kv_type != WL_TTYPE_F16};
    wl_model_file_totals(m, &in.size, &in.n_params); /* llama-bench's figures */
    wl_model_describe(m, in.model_type, sizeof in.model_type);
    wl_cli_host_cpu(in.cpu, sizeof in.cpu);
    if (!in.cpu[0])
        snprintf(in.cpu, sizeof in.cpu, "unknown");

    struct wl_bench_result res[2];
    int n = 0;
    rc = wl_bench_run(m, &p, res, &n, on_progress, &verbose, &err);
    if (rc != 0) {
        wl_model_free(m);
        return wl_cli_fail(CMD, "%s", err.text);
    }
    /* threads actually used (0 meant the CPUs it may run on, its affinity
     * mask: wl_threadpool_default_threads); the batch size is
     * each result's n_ubatch, the context's */
    in.threads = p.n_threads;
    if (in.threads == 0)
        in.threads = wl_threadpool_default_threads();
    weight_pages_note(m, model, verbose);
    wl_model_free(m);
    if (strcmp(fmt, "json") == 0)
        return print_json(&in, res, n);
    if (strcmp(fmt, "csv") == 0)
        print_csv(&in, res, n);
    else
        print_md(&in, res, n);
    return wl_cli_flush_stdout(CMD);
}

const struct wl_cli_command wl_cli_cmd_bench = {"bench", "engine throughput (pp/tg tokens/s, llama-bench formats)", run};
