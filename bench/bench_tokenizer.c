/* Tokenizer throughput on about 1 MB of mixed text (English, French, German,
 * Russian, Chinese, Korean, emoji, code, numbers, whitespace runs) for the
 * llama-spm (SentencePiece) and gpt-2 (byte-level BPE) vocabularies, plus the
 * other shared vocabularies when present. Two texts: "varied" (words drawn
 * pseudo-randomly from a large generated lexicon, so the per-call word cache
 * misses often) and "repetitive" (a few paragraphs repeated). Prints MB/s per
 * CPU second of the tokenizing thread (best of 3; stable on a shared machine)
 * and per wall second, tokens/s (CPU), bytes/token, lookups and cache hit rate;
 * no assertions on time. Deterministic text (xorshift with a fixed seed).
 */
#include "bench_support.h"
#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"
#include "ref_tokenizer.h"
#include "util/clock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TARGET_BYTES (1u << 20)

static uint32_t rng = 2463534242u;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static const char *const syll_latin[] = {"ka", "to",  "re",  "min", "sol", "ver", "an",  "de",
                                         "qu", "ion", "ght", "str", "ple", "ent", "ous", "ch",
                                         "th", "er",  "ing", "al",  "ü",   "é",   "ß",   "ñ"};
static const char *const syll_other[] = {"при", "вет", "мир", "ско", "世", "界", "我", "想",
                                         "안",  "녕",  "하",  "세",  "こ", "ん", "に", "ち"};
static const char *const punct[] = {". ", ", ",   "! ",   "? ", "; ", ": ", " - ", "... ",
                                    "\n", "\n\n", "    ", "\t", " (", ") ", "\"",  "'s "};
static const char *const code[] = {"int main(void) { return 0; }\n",
                                   "x->y[i] += 0x2A;\n",
                                   "for (i = 0; i < n; i++) {\n\t",
                                   "}\n",
                                   "// TODO: fix\n",
                                   "def f(x):\n    return x ** 2\n"};
static const char *const emoji[] = {"🚀", "✅", "😶‍🌫️", "🦙", "👍🏽"};

static void append(char *buf, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l < TARGET_BYTES) {
        memcpy(buf + *n, s, l);
        *n += l;
    }
}

static char *varied_text(size_t *len)
{
    char *buf = malloc(TARGET_BYTES + 1);
    size_t n = 0;
    while (n + 64 < TARGET_BYTES) {
        uint32_t r = next() % 100;
        if (r < 60) { /* a Latin-script word of 1-4 syllables, sometimes capitalised */
            char w[64] = "";
            int k = 1 + (int)(next() % 4);
            for (int i = 0; i < k; i++)
                strcat(w, syll_latin[next() % (sizeof(syll_latin) / sizeof(*syll_latin))]);
            if (next() % 5 == 0 && w[0] >= 'a' && w[0] <= 'z')
                w[0] = (char)(w[0] - 32);
            append(buf, &n, w);
            append(buf, &n, " ");
        } else if (r < 75) {
            int k = 1 + (int)(next() % 3);
            for (int i = 0; i < k; i++)
                append(buf, &n, syll_other[next() % (sizeof(syll_other) / sizeof(*syll_other))]);
            append(buf, &n, " ");
        } else if (r < 85) {
            append(buf, &n, punct[next() % (sizeof(punct) / sizeof(*punct))]);
        } else if (r < 92) {
            char num[32];
            snprintf(num, sizeof(num), "%u ", next() % 10000000u);
            append(buf, &n, num);
        } else if (r < 97) {
            append(buf, &n, code[next() % (sizeof(code) / sizeof(*code))]);
        } else {
            append(buf, &n, emoji[next() % (sizeof(emoji) / sizeof(*emoji))]);
            append(buf, &n, " ");
        }
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static char *repetitive_text(size_t *len)
{
    static const char *para =
        "The quick brown fox jumps over the lazy dog. Ce n'est pas la même chose! "
        "Привет, мир. 我想在apple工作1314151天 🚀\n"
        "int main(void) { return 0x2A; }\n    spaced   out   \n\n3.14159 2718281828 42\r\n";
    char *buf = malloc(TARGET_BYTES + 1);
    size_t n = 0, l = strlen(para);
    while (n + l < TARGET_BYTES) {
        memcpy(buf + n, para, l);
        n += l;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Tokenizes text with t (vocab, loaded in load_ms); 0 when measured, -1
 * when tokenizing failed (said on stderr; no figures printed then). */
static int run(const wl_tokenizer *t, const char *vocab, double load_ms, const char *label,
               const char *text, size_t len)
{
    struct wl_tok_stats best = {0};
    double best_mbs = 0;
    for (int r = 0; r < 3; r++) { /* best of 3: the machine is shared */
        struct wl_tok_stats st = {0};
        int32_t *ids = NULL;
        size_t n = 0;
        if (wl_tok_tokenize_alloc(t, text, len, 0, &ids, &n, &st) != 0) {
            fprintf(stderr, "bench_tokenizer: %s, %s text: tokenize failed\n", vocab, label);
            return -1;
        }
        free(ids);
        if (wl_tok_stats_mb_per_cpu_s(&st) > best_mbs) {
            best_mbs = wl_tok_stats_mb_per_cpu_s(&st);
            best = st;
        }
    }
    printf("  %-13s %-10s %7.2f MB/s (CPU) %7.2f MB/s (wall) %10.0f tok/s %8llu tokens "
           "%4.2f B/tok  load %6.1f ms  lookups %8llu  merges %8llu  cache hit %5.1f%%\n",
           vocab, label, best_mbs, wl_tok_stats_mb_per_s(&best),
           best.t_cpu_ns ? (double)best.n_tokens * 1e9 / (double)best.t_cpu_ns : 0.0,
           (unsigned long long)best.n_tokens,
           best.n_tokens ? (double)best.n_bytes / (double)best.n_tokens : 0.0, load_ms,
           (unsigned long long)(best.n_lookups + best.n_rank_lookups),
           (unsigned long long)best.n_merges, 100.0 * wl_tok_stats_cache_hit_rate(&best));
    return 0;
}

/* ---- special-token splitting: old (every occurrence) vs new (lazy heap) ----
 * The partition before the lazy heap (tests/reference/ref_tokenizer.c) listed
 * every enabled occurrence of every special token (12 bytes each) and sorted
 * them all; with nested space-run user tokens (phi-2 / GPT-NeoX style) each
 * position of a whitespace run starts ~30. Timed here only to print the old
 * cost next to the new one. */

/* phi-2-like: 256 byte tokens plus user-defined runs of 2..31 spaces and
 * 2..9 tabs, as phi-2 / CodeGen ship them (GPT-NeoX has 2..24 spaces). */
static wl_tokenizer *space_run_tokenizer(void)
{
    static char store[256 + 38][32];
    static struct wl_tok_text tok[256 + 38];
    static int32_t type[256 + 38];
    size_t n = 0;
    for (int b = 0; b < 256; b++, n++) { /* byte b as GPT-2 spells it */
        size_t l = wl__utf8_encode(wl__tok_byte_to_cp((uint8_t)b), store[n]);
        tok[n] = (struct wl_tok_text){store[n], l};
        type[n] = 1;
    }
    for (size_t k = 2; k <= 31; k++, n++) {
        memset(store[n], ' ', k);
        tok[n] = (struct wl_tok_text){store[n], k};
        type[n] = 4;
    }
    for (size_t k = 2; k <= 9; k++, n++) {
        memset(store[n], '\t', k);
        tok[n] = (struct wl_tok_text){store[n], k};
        type[n] = 4;
    }
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = WL_TOK_MODEL_BPE;
    d.pre = "phi-2";
    d.n_tokens = n;
    d.tokens = tok;
    d.types = type;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    if (wl_tok_build(&d, &t, &err) != 0) {
        fprintf(stderr, "bench_tokenizer: cannot build the space-run vocabulary: %s\n", err.text);
        return NULL;
    }
    return t;
}

/* Times the old and the new partition of text; 0, or -1 when one failed or
 * the two differ (said on stderr: a bench that found a mismatch fails). */
static int run_split(const wl_tokenizer *t, const char *label, const char *text, size_t len)
{
    uint64_t c0 = wl_clock_thread_cpu_ns();
    size_t n_listed = 0, n_old_frags = 0;
    struct wl__tok_frag *acc = NULL;
    uint64_t n_old = 0;
    int old_rc = wl_ref_tok_partition(t, text, len, false, &acc, &n_old_frags, &n_old, &n_listed);
    double old_s = (double)(wl_clock_thread_cpu_ns() - c0) / 1e9;
    c0 = wl_clock_thread_cpu_ns();
    struct wl__tok_frag *f = NULL;
    size_t nf = 0;
    uint64_t n_new = 0;
    int rc = wl__tok_partition(t, text, len, false, &f, &nf, &n_new);
    double new_s = (double)(wl_clock_thread_cpu_ns() - c0) / 1e9;
    if (rc != 0 || old_rc != 0) {
        fprintf(stderr, "bench_tokenizer: %s: out of memory (old rc %d, new rc %d)\n", label,
                old_rc, rc);
        free(acc);
        free(f);
        return -1;
    }
    /* the same special tokens and text at the same places */
    bool same = n_old == n_new && n_old_frags == nf && memcmp(acc, f, nf * sizeof(*f)) == 0;
    printf("  %-22s old %7.3f s CPU, %9zu occurrences stored (%6.1f MB)   new %6.3f s CPU   "
           "%6.1fx   %llu special tokens, %s\n",
           label, old_s, n_listed, (double)n_listed * sizeof(struct wl_ref_tok_occ) / 1e6, new_s,
           new_s > 0 ? old_s / new_s : 0.0, (unsigned long long)n_new,
           same ? "identical" : "DIFFERENT");
    free(acc);
    free(f);
    if (!same) {
        fprintf(stderr,
                "bench_tokenizer: %s: the old and the new partition differ (%llu vs %llu special "
                "tokens, %zu vs %zu pieces)\n",
                label, (unsigned long long)n_old, (unsigned long long)n_new, n_old_frags, nf);
        return -1;
    }
    return 0;
}

/* 0, or -1 when a partition failed or differed (said on stderr) */
static int bench_split(void)
{
    printf("\nspecial-token splitting, phi-2-like user tokens of 2-31 spaces and 2-9 tabs: "
           "old (every occurrence listed and sorted) vs new (lazy heap)\n");
    wl_tokenizer *t = space_run_tokenizer();
    if (!t)
        return -1;
    char *text = malloc(TARGET_BYTES);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: out of memory\n");
        wl_tok_free(t);
        return -1;
    }
    memset(text, ' ', TARGET_BYTES);
    int rc = run_split(t, "1 MiB of spaces", text, TARGET_BYTES);
    static const char *const lines[] = {"def f(x):\n",
                                        "    if x:\n",
                                        "        return g(x)\n",
                                        "                        y = [a, b,\n",
                                        "                             c]  # aligned\n",
                                        "\t\tindent(tabs)\n",
                                        "\n"};
    size_t n = 0;
    for (;;) {
        const char *l = lines[next() % (sizeof(lines) / sizeof(*lines))];
        size_t k = strlen(l);
        if (n + k > TARGET_BYTES)
            break;
        memcpy(text + n, l, k);
        n += k;
    }
    if (run_split(t, "1 MB of indented code", text, n) != 0)
        rc = -1;
    free(text);
    wl_tok_free(t);
    return rc;
}

static const char usage[] =
    "usage: bench_tokenizer [-h | --help]\n"
    "\n"
    "Tokenizer throughput on about 1 MB of mixed text, varied (cache-hostile) and\n"
    "repetitive, for the llama-spm and gpt-2 vocabularies and, when present, phi-3,\n"
    "starcoder and deepseek-llm (ggml-vocab-NAME.gguf files):\n"
    "MB/s per CPU second of the tokenizing thread (best of 3) and per wall second,\n"
    "tokens/s, bytes/token, lookups and cache hit rate. Then special-token\n"
    "splitting on 1 MiB of spaces and 1 MB of indented code with phi-2-like\n"
    "user tokens (runs of spaces and tabs): the old algorithm (every occurrence\n"
    "listed and sorted) against the current one, CPU seconds and tokens compared.\n"
    "No assertions on time.\n"
    "\n"
    "Environment:\n"
    "  WL_BENCH_VOCAB_DIR    directory of the vocabularies (default\n"
    "                        " WL_TESTDATA_DIR "/vocab)\n"
    "\n"
    "Exit status: 0 (a vocabulary absent from the directory is skipped with a\n"
    "note); 1 when none of them is there or one that is there does not load (both\n"
    "before measuring anything), tokenizing failed or the old and the new splitting\n"
    "differ (DIFFERENT); 2 for any argument but -h / --help.\n";

int main(int argc, char **argv)
{
    int args = wl_bench_args_none(argc, argv, "bench_tokenizer", usage);
    if (args >= 0)
        return args;
    const char *dir = getenv("WL_BENCH_VOCAB_DIR");
    if (!dir || !*dir)
        dir = WL_TESTDATA_DIR "/vocab";
    const char *vocabs[] = {"llama-spm", "gpt-2", "phi-3", "starcoder", "deepseek-llm"};
    enum { N_VOCABS = sizeof(vocabs) / sizeof(*vocabs) };
    /* every vocabulary there is loaded before measuring anything: one that is
     * there and does not load (damaged, unsupported) is a failure, as a
     * model that does not load is; only an absent one is skipped */
    wl_tokenizer *toks[N_VOCABS] = {0};
    double load_ms[N_VOCABS] = {0};
    size_t n_present = 0;
    int failed = 0;
    for (size_t i = 0; i < N_VOCABS; i++) {
        char path[1024];
        struct stat sb;
        struct wl_errmsg err;
        snprintf(path, sizeof(path), "%s/ggml-vocab-%s.gguf", dir, vocabs[i]);
        if (stat(path, &sb) != 0 && errno == ENOENT)
            continue;
        n_present++;
        const uint64_t t0 = wl_clock_now_ns();
        if (wl_tok_load_file(path, &toks[i], &err) != 0) {
            fprintf(stderr, "bench_tokenizer: %s: cannot load it: %s\n", path, err.text);
            failed = 1;
            continue;
        }
        load_ms[i] = (double)(wl_clock_now_ns() - t0) / 1e6;
    }
    if (n_present == 0 || failed) { /* before measuring anything, as a missing model is */
        if (n_present == 0)
            fprintf(stderr,
                    "bench_tokenizer: no vocabulary in %s (ggml-vocab-NAME.gguf for %s, %s, %s, "
                    "%s or %s): nothing measured\n",
                    dir, vocabs[0], vocabs[1], vocabs[2], vocabs[3], vocabs[4]);
        else
            fprintf(stderr, "bench_tokenizer: a vocabulary does not load (said above): nothing "
                            "measured\n");
        for (size_t i = 0; i < N_VOCABS; i++)
            wl_tok_free(toks[i]);
        return 1;
    }
    size_t nv = 0, nr = 0;
    char *varied = varied_text(&nv);
    char *rep = repetitive_text(&nr);
    printf("tokenizer throughput, best of 3 runs by CPU time (varied: %zu bytes, repetitive: %zu "
           "bytes)\n",
           nv, nr);
    for (size_t i = 0; i < N_VOCABS; i++) {
        if (!toks[i]) {
            printf("  %-13s skipped: no %s/ggml-vocab-%s.gguf\n", vocabs[i], dir, vocabs[i]);
            continue;
        }
        failed |= run(toks[i], vocabs[i], load_ms[i], "varied", varied, nv) < 0;
        failed |= run(toks[i], vocabs[i], load_ms[i], "repetitive", rep, nr) < 0;
        wl_tok_free(toks[i]);
    }
    free(varied);
    free(rep);
    failed |= bench_split() != 0;
    return failed ? 1 : 0;
}
