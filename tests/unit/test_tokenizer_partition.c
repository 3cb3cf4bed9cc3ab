/* engine/tokenizer: splitting special tokens out of text (wl__tok_partition).
 * The lazy-heap partition must give exactly what the earlier algorithm gave
 * (every occurrence listed, sorted by length, id and position, accepted
 * greedily), which agreed with llama.cpp; that algorithm is kept as the
 * reference in tests/reference/ref_tokenizer.c. Random texts over small alphabets meet vocabularies
 * of nested, overlapping user-defined and control tokens, with RSTRIP (Phi-3 name rule) and LSTRIP
 * (<mask> with a jina-v2 pre-tokenizer name); the fragments and the final token ids must be
 * identical. Also: long whitespace runs against nested space-run tokens (phi-2 / NeoX style) no
 * longer need memory per overlapping occurrence (checked under an address-space limit, not timed),
 * and the jina-v2 <mask> rule itself.
 */
#include "test_support.h"

#include "engine/tokenizer.h"
#include "engine/tokenizer_impl.h"
#include "ref_tokenizer.h"
#include "util/utf8.h"
#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* ---- the reference's tokens ---------------------------------------------- */

/* The ids tokenize_vec makes from a partition (no BOS/EOS): special tokens as
 * they are, each text fragment merged on its own. */
static void ref_tokens(const wl_tokenizer *t, const char *text, const struct wl__tok_frag *f,
                       size_t nf, struct wl__tok_ivec *out)
{
    struct wl__tok_scratch s = {0};
    struct wl_tok_stats st = {0};
    bool prev_special = true;
    for (size_t i = 0; i < nf; i++) {
        if (f[i].token != WL_TOK_NULL) {
            assert_int_equal(wl__tok_ivec_push(out, f[i].token), 0);
            prev_special = true;
            continue;
        }
        if (t->model == WL_TOK_MODEL_SPM)
            assert_int_equal(wl__tok_spm_fragment(t, text + f[i].off, f[i].len,
                                                  t->add_space_prefix && prev_special, &s, out,
                                                  &st),
                             0);
        else
            assert_int_equal(wl__tok_bpe_fragment(t, text + f[i].off, f[i].len, &s, out, &st), 0);
        prev_special = false;
    }
    wl__tok_scratch_free(&s);
}

/* ---- vocabularies ------------------------------------------------------------- */

struct vocab {
    struct wl_tok_text tok[1024];
    int32_t type[1024];
    float score[1024];
    char *own[1024];
    size_t n;
};

static int32_t add(struct vocab *v, const char *s, size_t len, int32_t type)
{
    assert_true(v->n < 1024);
    char *c = malloc(len + 1);
    assert_non_null(c);
    memcpy(c, s, len);
    c[len] = 0;
    v->own[v->n] = c;
    v->tok[v->n] = (struct wl_tok_text){c, len};
    v->type[v->n] = type;
    v->score[v->n] = -(float)v->n;
    return (int32_t)v->n++;
}

static bool has(const struct vocab *v, const char *s, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->tok[i].len == len && memcmp(v->tok[i].data, s, len) == 0)
            return true;
    return false;
}

static void vocab_free(struct vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->own[i]);
    v->n = 0;
}

/* Byte-level BPE: 256 byte tokens, no merges. */
static void bpe_bytes(struct vocab *v)
{
    memset(v, 0, sizeof(*v));
    for (int b = 0; b < 256; b++) {
        char s[4];
        size_t l = wl__utf8_encode(wl__tok_byte_to_cp((uint8_t)b), s);
        add(v, s, l, 1);
    }
}

/* SentencePiece: <unk> <s> </s> and 256 byte tokens. */
static void spm_bytes(struct vocab *v)
{
    memset(v, 0, sizeof(*v));
    add(v, "<unk>", 5, 2);
    add(v, "<s>", 3, 3);
    add(v, "</s>", 4, 3);
    for (int b = 0; b < 256; b++) {
        char h[8];
        snprintf(h, sizeof(h), "<0x%02X>", b);
        add(v, h, strlen(h), 6);
    }
}

static wl_tokenizer *build(struct vocab *v, enum wl_tok_model model, const char *pre,
                           const char *name)
{
    struct wl_tok_vocab_desc d;
    wl_tok_vocab_desc_init(&d);
    d.model = model;
    d.pre = pre;
    d.name = name;
    d.n_tokens = v->n;
    d.tokens = v->tok;
    d.types = v->type;
    d.scores = v->score;
    wl_tokenizer *t = NULL;
    struct wl_errmsg err;
    int rc = wl_tok_build(&d, &t, &err);
    if (rc)
        fprintf(stderr, "build: %s\n", err.text);
    assert_int_equal(rc, 0);
    return t;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11) % n;
}

/* ---- comparing ---------------------------------------------------------------- */

static void expect_same(const wl_tokenizer *t, const char *text, size_t len, bool parse_special)
{
    struct wl__tok_frag *fa = NULL, *fb = NULL;
    size_t na = 0, nb = 0;
    uint64_t sa = 0, sb = 0;
    assert_int_equal(wl__tok_partition(t, text, len, parse_special, &fa, &na, &sa), 0);
    assert_int_equal(wl_ref_tok_partition(t, text, len, parse_special, &fb, &nb, &sb, NULL), 0);
    bool same = na == nb && sa == sb && memcmp(fa, fb, na * sizeof(*fa)) == 0;
    if (!same) {
        fprintf(stderr, "text (%zu bytes, special %d): '%.*s'\n got:", len, parse_special, (int)len,
                text);
        for (size_t i = 0; i < na; i++)
            fprintf(stderr, " [%u+%u %d]", fa[i].off, fa[i].len, (int)fa[i].token);
        fprintf(stderr, "\nwant:");
        for (size_t i = 0; i < nb; i++)
            fprintf(stderr, " [%u+%u %d]", fb[i].off, fb[i].len, (int)fb[i].token);
        fprintf(stderr, "\n");
        fail();
    }
    /* and the ids of the whole tokenizer */
    struct wl__tok_ivec want = {0};
    ref_tokens(t, text, fb, nb, &want);
    int32_t *got = NULL;
    size_t n_got = 0;
    assert_int_equal(wl_tok_tokenize_alloc(t, text, len, parse_special ? WL_TOK_PARSE_SPECIAL : 0,
                                           &got, &n_got, NULL),
                     0);
    assert_int_equal(n_got, want.n);
    if (n_got)
        assert_memory_equal(got, want.v, n_got * sizeof(*got));
    free(got);
    free(want.v);
    free(fa);
    free(fb);
}

/* Random vocabularies of nested special tokens over a small alphabet, random
 * texts over the same alphabet. */
static void random_round(enum wl_tok_model model, const char *pre, const char *name, int n_texts)
{
    static const char alpha[] = {'a', 'b', ' ', '\t'};
    struct vocab v;
    if (model == WL_TOK_MODEL_SPM)
        spm_bytes(&v);
    else
        bpe_bytes(&v);
    add(&v, "<mask>", 6, 3);
    int n_special = 4 + (int)rnd(24);
    for (int k = 0; k < n_special; k++) {
        char s[8];
        size_t l = 1 + rnd(6);
        for (size_t i = 0; i < l; i++)
            s[i] = alpha[rnd(k % 3 == 0 ? 2 : 4)];
        if (!has(&v, s, l))
            add(&v, s, l, rnd(2) ? 4 : 3);
    }
    wl_tokenizer *t = build(&v, model, pre, name);
    static const char *const pieces[] = {"a",  "b",  " ",   "\t",     "aa", "ab",
                                         "ba", "  ", "\t ", "<mask>", "x",  " <mask> "};
    for (int i = 0; i < n_texts; i++) {
        char text[128];
        size_t len = 0;
        size_t want = 1 + rnd(80);
        while (len < want) {
            const char *pc = pieces[rnd(sizeof(pieces) / sizeof(*pieces))];
            size_t l = strlen(pc);
            if (len + l > sizeof(text))
                break;
            memcpy(text + len, pc, l);
            len += l;
        }
        expect_same(t, text, len, false);
        expect_same(t, text, len, true);
    }
    wl_tok_free(t);
    vocab_free(&v);
}

static void test_partition_matches_reference_on_nested_tokens(void **state)
{
    (void)state;
    for (int round = 0; round < 40; round++) {
        random_round(WL_TOK_MODEL_BPE, "gpt-2", NULL, 100);
        random_round(WL_TOK_MODEL_BPE, "gpt-2", "Phi-3 mini", 100); /* RSTRIP */
        random_round(WL_TOK_MODEL_BPE, "jina-v2-es", NULL, 100);    /* <mask> LSTRIP */
        random_round(WL_TOK_MODEL_SPM, NULL, "phi3", 100);          /* RSTRIP */
        random_round(WL_TOK_MODEL_SPM, NULL, NULL, 100);
    }
}

/* phi-2 / NeoX style: user-defined tokens of 2..31 spaces and 2..9 tabs. */
static wl_tokenizer *space_run_vocab(struct vocab *v)
{
    bpe_bytes(v);
    char s[32];
    memset(s, ' ', sizeof s);
    for (size_t k = 2; k <= 31; k++)
        add(v, s, k, 4);
    memset(s, '\t', sizeof s);
    for (size_t k = 2; k <= 9; k++)
        add(v, s, k, 4);
    return build(v, WL_TOK_MODEL_BPE, "phi-2", NULL);
}

static void test_partition_matches_reference_on_whitespace_runs(void **state)
{
    (void)state;
    struct vocab v;
    wl_tokenizer *t = space_run_vocab(&v);
    /* indented code-like lines, every indent width 0..70, spaces and tabs */
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int line = 0; len + 200 < cap; line++) {
        int ind = line % 71;
        for (int i = 0; i < ind; i++)
            text[len++] = (line / 71) % 3 == 2 && i % 5 == 0 ? '\t' : ' ';
        memcpy(text + len, "x = f(y)  \t\n", 12);
        len += 12;
    }
    expect_same(t, text, len, false);
    memset(text, ' ', cap); /* one run of 64 KiB spaces */
    expect_same(t, text, cap, false);
    expect_same(t, text, 1000003 % cap, true);
    free(text);
    wl_tok_free(t);
    vocab_free(&v);
}

/* Memory, not time: 4 MiB of spaces against the space-run tokens. The old
 * partition listed ~30 occurrences of 12 bytes per position (1.5 GB here,
 * plus doubling); the heap holds one per position. The tokenization runs in
 * a child under an address-space limit of 512 MiB above what it had. */
static void test_whitespace_run_memory_is_linear(void **state)
{
    (void)state;
#if !defined(__linux__) || WL_TEST_UNDER_SANITIZER
    skip(); /* sanitizers reserve terabytes of address space */
#else
    struct vocab v;
    wl_tokenizer *t = space_run_vocab(&v);
    size_t len = (size_t)4 << 20;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, ' ', len);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const uint64_t vm = wl_test_vm_size_bytes();
        if (vm == 0)
            _exit(3);
        struct rlimit rl = {(rlim_t)vm + ((rlim_t)512 << 20), (rlim_t)vm + ((rlim_t)512 << 20)};
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(4);
        int32_t *ids = NULL;
        size_t n = 0;
        int rc = wl_tok_tokenize_alloc(t, text, len, 0, &ids, &n, NULL);
        /* 31-space tokens (id 256 + 31 - 2), then the 4 spaces left over */
        bool ok = rc == 0 && len % 31 == 4 && n == len / 31 + 1 && ids[0] == 256 + 29 &&
                  ids[n - 2] == 256 + 29 && ids[n - 1] == 256 + 2;
        _exit(rc == WL_ENOMEM ? 1 : ok ? 0 : 2);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 1)
        fprintf(stderr, "out of memory under a 512 MiB address-space limit\n");
    assert_int_equal(WEXITSTATUS(status), 0);
    free(text);
    wl_tok_free(t);
    vocab_free(&v);
#endif
}

/* llama.cpp: with a jina-v2 pre-tokenizer, <mask> strips the whitespace to
 * its left; the Phi-3 name rule is then not applied. */
static void test_jina_v2_mask_strips_left_whitespace(void **state)
{
    (void)state;
    static const char *const pres[] = {"jina-v2-es", "jina-v2-de", "gpt-2"};
    for (size_t k = 0; k < 3; k++) {
        struct vocab v;
        bpe_bytes(&v);
        int32_t mask = add(&v, "<mask>", 6, 3);
        wl_tokenizer *t = build(&v, WL_TOK_MODEL_BPE, pres[k], "Phi-3 jina");
        bool jina = k < 2;
        const char *text = "hi \t <mask> x";
        int32_t ids[32];
        size_t n = 0;
        assert_int_equal(
            wl_tok_tokenize(t, text, strlen(text), WL_TOK_PARSE_SPECIAL, ids, 32, &n, NULL), 0);
        /* jina: the whitespace left of <mask> goes (LSTRIP, and no Phi-3
         * RSTRIP); gpt-2 with the Phi-3 name: the whitespace right of it */
        const int32_t want_jina[] = {'h', 'i', mask, ' ', 'x'};
        const int32_t want_phi3[] = {'h', 'i', ' ', '\t', ' ', mask, 'x'};
        if (jina) {
            assert_int_equal(n, 5);
            assert_memory_equal(ids, want_jina, sizeof want_jina);
        } else {
            assert_int_equal(n, 7);
            assert_memory_equal(ids, want_phi3, sizeof want_phi3);
        }
        wl_tok_free(t);
        vocab_free(&v);
    }
}

/* The Phi-3 name rule looks at the whole general.name: it read only the
 * first 127 bytes, so a long name with "Phi-3" at its end lost the rule. */
static void test_phi3_name_rule_reads_the_whole_name(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'x', 200);
    strcpy(name + 200, " PHI3-mini");
    struct vocab v;
    bpe_bytes(&v);
    int32_t mask = add(&v, "<mask>", 6, 3);
    wl_tokenizer *t = build(&v, WL_TOK_MODEL_BPE, "gpt-2", name);
    const char *text = "a<mask> x";
    int32_t ids[16];
    size_t n = 0;
    assert_int_equal(
        wl_tok_tokenize(t, text, strlen(text), WL_TOK_PARSE_SPECIAL, ids, 16, &n, NULL), 0);
    const int32_t want[] = {'a', mask, 'x'}; /* RSTRIP: the space after <mask> goes */
    assert_int_equal(n, 3);
    assert_memory_equal(ids, want, sizeof want);
    wl_tok_free(t);
    vocab_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_matches_reference_on_nested_tokens),
        cmocka_unit_test(test_partition_matches_reference_on_whitespace_runs),
        cmocka_unit_test(test_whitespace_run_memory_is_linear),
        cmocka_unit_test(test_jina_v2_mask_strips_left_whitespace),
        cmocka_unit_test(test_phi3_name_rule_reads_the_whole_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
