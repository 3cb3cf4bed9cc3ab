/* engine/model, engine/requant and the GGUF writer on a file whose tensor
 * data is misaligned: stories260K re-packed here with general.alignment = 1
 * and every tensor at a file byte = 1 (mod 4), so that no tensor is aligned
 * for the kernels (F32 needs 4 bytes). Such a file is valid GGUF. The model
 * loads it by copying the misaligned tensors and runs it exactly as the
 * original (same greedy tokens, same logits bit for bit); quantizing it
 * reads it correctly and writes alignment 32, never the input's 1.
 */
#include "test_support.h"

#include "engine/context.h"
#include "engine/gguf_write.h"
#include "engine/kernels/kernels.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/requant.h"
#include "wattlens/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- a GGUF image with general.alignment = 1 -------------------------------- */

struct img {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct img *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(struct img *b, uint32_t v)
{
    put(b, &v, 4); /* little-endian hosts only, as the writer */
}

static void put_u64(struct img *b, uint64_t v)
{
    put(b, &v, 8);
}

static void put_str(struct img *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* A tensor as re-packed: g's, or its 1-D F32 tensors as F16. */
struct ptensor {
    const struct wl_gguf_tensor *t;
    enum wl_ttype type;
    const void *data;
    uint64_t n_bytes;
    void *owned;
};

static void put_infos(struct img *b, const struct ptensor *pt, uint64_t n_t, const uint64_t *off)
{
    for (uint64_t i = 0; i < n_t; i++) {
        const struct wl_gguf_tensor *t = pt[i].t;
        put_str(b, t->name);
        put_u32(b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(b, t->ne[d]);
        put_u32(b, pt[i].type);
        put_u64(b, off[i]);
    }
}

/* g's keys and tensors. odd: general.alignment = 1 and every tensor's data
 * at a file byte that is 1 mod 4; the image is malloc'd (16-byte aligned),
 * so in memory every tensor is at an address that is 1 mod 4 as well.
 * Otherwise general.alignment = 32 and the data aligned to it. f16_vectors:
 * the 1-D F32 tensors (norms) stored as F16. */
static uint8_t *repack(const wl_gguf *g, bool odd, bool f16_vectors, size_t *size)
{
    const uint32_t align = odd ? 1 : 32;
    struct img b = {0};
    const uint64_t n_t = wl_gguf_n_tensors(g);
    const bool has_align = wl_gguf_find_kv(g, "general.alignment") >= 0;
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, n_t);
    put_u64(&b, wl_gguf_n_kv(g) + (has_align ? 0 : 1));
    for (uint64_t k = 0; k < wl_gguf_n_kv(g); k++) {
        const char *key = wl_gguf_kv_key(g, k);
        put_str(&b, key);
        put_u32(&b, wl_gguf_kv_type(g, k));
        if (strcmp(key, "general.alignment") == 0) {
            put_u32(&b, align);
            continue;
        }
        const void *raw = NULL;
        uint64_t n = 0;
        assert_int_equal(wl_gguf_kv_raw(g, k, &raw, &n), 0);
        put(&b, raw, n);
    }
    if (!has_align) {
        put_str(&b, "general.alignment");
        put_u32(&b, WL_GGUF_UINT32);
        put_u32(&b, align);
    }
    struct ptensor *pt = calloc(n_t ? n_t : 1, sizeof *pt);
    uint64_t *off = calloc(n_t ? n_t : 1, sizeof *off);
    assert_true(pt && off);
    for (uint64_t i = 0; i < n_t; i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(g, i);
        pt[i] = (struct ptensor){.t = t, .type = t->type, .data = t->data, .n_bytes = t->n_bytes};
        if (f16_vectors && t->n_dims == 1 && t->type == WL_TTYPE_F32) {
            float *x = malloc(t->n_bytes);
            uint16_t *h = malloc(t->n_elements * 2);
            assert_true(x && h);
            memcpy(x, t->data, t->n_bytes);
            assert_int_equal(wl_quantize_row(WL_TTYPE_F16, x, h, (int64_t)t->n_elements), 0);
            free(x);
            pt[i] = (struct ptensor){
                .t = t, .type = WL_TTYPE_F16, .data = h, .n_bytes = t->n_elements * 2, .owned = h};
        }
    }
    /* the infos' size does not depend on the offsets: measure, then place */
    struct img probe = {0};
    put_infos(&probe, pt, n_t, off);
    const size_t data_start = (b.n + probe.n + align - 1) / align * align;
    free(probe.p);
    size_t pos = data_start;
    for (uint64_t i = 0; i < n_t; i++) {
        while (odd ? pos % 4 != 1 : pos % align != 0)
            pos++;
        off[i] = pos - data_start;
        pos += pt[i].n_bytes;
    }
    put_infos(&b, pt, n_t, off);
    for (uint64_t i = 0; i < n_t; i++) {
        static const uint8_t gap[32] = {0xA5, 0xA5, 0xA5, 0xA5}; /* a misread shows */
        put(&b, gap, data_start + off[i] - b.n);
        put(&b, pt[i].data, pt[i].n_bytes);
        free(pt[i].owned);
    }
    free(pt);
    free(off);
    *size = b.n;
    return b.p;
}

/* ---- helpers -------------------------------------------------------------- */

enum { N_GEN = 8 };

struct run {
    int32_t tokens[N_GEN];
    float *logits; /* of the last step (vocab floats, heap) */
};

/* Greedy decoding of N_GEN tokens after "<s> Once". */
static void greedy(wl_model *m, struct run *r)
{
    struct wl_errmsg err = {{0}};
    wl_context *ctx = NULL;
    assert_int_equal(wl_context_create(m, NULL, &ctx, &err), 0);
    int32_t prompt[2] = {1, 403};
    assert_int_equal(wl_context_prefill(ctx, prompt, 2, &err), 0);
    const int32_t nv = m->config.vocab_size;
    for (int i = 0; i < N_GEN; i++) {
        const float *lg = wl_context_logits(ctx);
        int32_t best = 0;
        for (int32_t v = 1; v < nv; v++)
            if (lg[v] > lg[best])
                best = v;
        r->tokens[i] = best;
        if (i + 1 < N_GEN)
            assert_int_equal(wl_context_decode(ctx, best, &err), 0);
    }
    r->logits = malloc((size_t)nv * sizeof(float));
    memcpy(r->logits, wl_context_logits(ctx), (size_t)nv * sizeof(float));
    wl_context_free(ctx);
}

static uint8_t *read_stories(size_t *size)
{
    char *buf = wl_test_read_file(wl_test_data_path("models/stories260K.gguf"), size);
    assert_non_null(buf);
    return (uint8_t *)buf;
}

static bool aligned_for_kernels(const struct wl_weight *w)
{
    return (uintptr_t)w->data % wl_kernel_weight_align(w->type) == 0;
}

/* ---- tests ---------------------------------------------------------------- */

/* One file, aligned and misaligned: the same greedy tokens and last logits
 * bit for bit (the kernels see the same bytes). f16_vectors: with the norm
 * weights in F16 too (those are widened to F32 at load, from an odd address
 * in the misaligned file). */
static void run_like_the_original(bool f16_vectors)
{
    size_t n_file = 0, n_orig = 0, n_mis = 0;
    uint8_t *file = read_stories(&n_file);
    wl_gguf *g = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_open_memory(file, n_file, &g, &err), 0);
    uint8_t *orig = repack(g, false, f16_vectors, &n_orig);
    uint8_t *mis = repack(g, true, f16_vectors, &n_mis);
    wl_gguf_close(g);
    free(file);

    wl_model *mo = NULL, *mm = NULL;
    assert_int_equal(wl_test_model_from_memory(orig, n_orig, &mo, &err), 0);
    assert_int_equal(wl_test_model_from_memory(mis, n_mis, &mm, &err), 0);
    /* the re-packed file really is misaligned: every tensor at 1 mod 4 */
    assert_int_equal(wl_gguf_alignment(mm->gguf), 1);
    for (uint64_t i = 0; i < wl_gguf_n_tensors(mm->gguf); i++)
        assert_int_equal((uintptr_t)wl_gguf_tensor(mm->gguf, i)->data % 4, 1);
    /* the original's matrices are read in place, the misaligned ones were
     * copied to aligned memory the model owns */
    const struct wl_weight *wo = &mo->weights.layers[0].wq, *wm = &mm->weights.layers[0].wq;
    assert_true((const uint8_t *)wo->data > orig && (const uint8_t *)wo->data < orig + n_orig);
    assert_false((const uint8_t *)wm->data > mis && (const uint8_t *)wm->data < mis + n_mis);
    assert_true(aligned_for_kernels(&mm->weights.tok_embd));
    assert_true(aligned_for_kernels(&mm->weights.output));
    for (int32_t il = 0; il < mm->config.n_layer; il++) {
        const struct wl_layer_weights *l = &mm->weights.layers[il];
        assert_true(aligned_for_kernels(&l->wq) && aligned_for_kernels(&l->wk) &&
                    aligned_for_kernels(&l->wv) && aligned_for_kernels(&l->wo) &&
                    aligned_for_kernels(&l->w_gate) && aligned_for_kernels(&l->w_up) &&
                    aligned_for_kernels(&l->w_down));
        assert_int_equal((uintptr_t)l->attn_norm % 4, 0);
    }
    /* and it computes exactly what the original does */
    struct run ro = {0}, rm = {0};
    greedy(mo, &ro);
    greedy(mm, &rm);
    assert_memory_equal(ro.tokens, rm.tokens, sizeof ro.tokens);
    assert_memory_equal(ro.logits, rm.logits, (size_t)mo->config.vocab_size * sizeof(float));
    free(ro.logits);
    free(rm.logits);
    wl_model_free(mo);
    wl_model_free(mm);
    free(mis);
    free(orig);
}

static void test_misaligned_file_runs_like_the_original(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    run_like_the_original(false);
}

static void test_misaligned_f16_norms_run_like_the_original(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    run_like_the_original(true);
}

/* requant of img into a new image (caller frees) */
static uint8_t *quantize(const uint8_t *img, size_t n, enum wl_ttype type, size_t *n_out)
{
    wl_gguf *g = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_open_memory(img, n, &g, &err), 0);
    wl_gguf_writer *w = NULL;
    assert_int_equal(wl_gguf_writer_new(&w), 0);
    assert_int_equal(wl_requant_model(g, type, NULL, w, NULL, &err), 0);
    void *out = NULL;
    assert_int_equal(wl_gguf_writer_to_memory(w, &out, n_out), 0);
    wl_gguf_writer_free(w);
    wl_gguf_close(g);
    return out;
}

/* Quantizing a misaligned file reads every row correctly, gives the same
 * tensors as quantizing the aligned original, and writes them at alignment
 * 32 (copying the input's general.alignment = 1 used to write a file that
 * is misaligned again). The source is stories260K
 * in Q8_0 (with F16 for the matrices whose rows are not whole blocks): the
 * row converters read those blocks' fp16 fields, which must be aligned (they
 * get aligned copies; under UBSan a misaligned read is an error). */
static void test_quantize_of_a_misaligned_file(void **state)
{
    (void)state;
    if (!wl_test_have_data())
        skip();
    size_t n_f32 = 0, n_orig = 0, n_mis = 0;
    uint8_t *f32 = read_stories(&n_f32);
    uint8_t *orig = quantize(f32, n_f32, WL_TTYPE_Q8_0, &n_orig);
    free(f32);
    wl_gguf *g = NULL;
    struct wl_errmsg err = {{0}};
    assert_int_equal(wl_gguf_open_memory(orig, n_orig, &g, &err), 0);
    uint8_t *mis = repack(g, true, false, &n_mis);
    wl_gguf_close(g);
    const enum wl_ttype types[] = {WL_TTYPE_Q4_0, WL_TTYPE_F32};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t n_qo = 0, n_qm = 0;
        uint8_t *qo = quantize(orig, n_orig, types[k], &n_qo);
        uint8_t *qm = quantize(mis, n_mis, types[k], &n_qm);
        wl_gguf *go = NULL, *gm = NULL;
        assert_int_equal(wl_gguf_open_memory(qo, n_qo, &go, &err), 0);
        assert_int_equal(wl_gguf_open_memory(qm, n_qm, &gm, &err), 0);
        /* written at alignment 32, not the input's 1: every tensor aligned */
        assert_int_equal(wl_gguf_alignment(gm), 32);
        int64_t al = 0;
        assert_int_equal(wl_gguf_get_i64(gm, "general.alignment", &al), 0);
        assert_int_equal(al, 32);
        assert_int_equal(wl_gguf_n_tensors(gm), wl_gguf_n_tensors(go));
        for (uint64_t i = 0; i < wl_gguf_n_tensors(go); i++) {
            const struct wl_gguf_tensor *a = wl_gguf_tensor(go, i), *b = wl_gguf_tensor(gm, i);
            assert_string_equal(a->name, b->name);
            assert_int_equal(a->type, b->type);
            assert_int_equal(a->n_bytes, b->n_bytes);
            assert_memory_equal(a->data, b->data, a->n_bytes);
            assert_int_equal(((const uint8_t *)b->data - qm) % 32, 0); /* file byte */
        }
        wl_gguf_close(go);
        wl_gguf_close(gm);
        free(qo);
        free(qm);
    }
    free(mis);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misaligned_file_runs_like_the_original),
        cmocka_unit_test(test_misaligned_f16_norms_run_like_the_original),
        cmocka_unit_test(test_quantize_of_a_misaligned_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
