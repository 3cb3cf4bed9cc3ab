/* Whole-model (re)quantization; see requant.h. Every output tensor is
 * produced when the writer writes it, converted one row at a time
 * (dequantize to F32, quantize to the target), so the extra memory is the
 * writer's buffer for one tensor and one row of floats per thread. */
#include "engine/requant.h"

#include "engine/kernels/kernels.h"
#include "engine/quant.h"
#include "wattlens/error.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum wl_ttype wl_requant_pick_type(enum wl_ttype want, uint32_t n_dims, uint64_t ne0)
{
    if (n_dims < 2)
        return WL_TTYPE_F32;
    if (ne0 % wl_ttype_block_elems(want) == 0)
        return want;
    if (ne0 % wl_ttype_block_elems(WL_TTYPE_Q8_0) == 0)
        return WL_TTYPE_Q8_0;
    return WL_TTYPE_F16;
}

/* llama.cpp's names of tensors kept whatever their shape: matched anywhere
 * in the name (they follow blk.N.), and matched whole */
static const char *const keep_parts[] = {
    "_norm.weight",
    "ffn_gate_inp.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d.weight",
    "shortconv.conv.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
};
static const char *const keep_names[] = {"position_embd.weight", "token_types.weight"};

bool wl_requant_converts(const char *name, uint32_t n_dims)
{
    static const char suffix[] = "weight";
    const size_t n = strlen(name);
    if (n_dims < 2 || n < sizeof suffix - 1 || strcmp(name + n - (sizeof suffix - 1), suffix) != 0)
        return false;
    for (size_t i = 0; i < sizeof keep_parts / sizeof keep_parts[0]; i++) {
        if (strstr(name, keep_parts[i]))
            return false;
    }
    for (size_t i = 0; i < sizeof keep_names / sizeof keep_names[0]; i++) {
        if (strcmp(name, keep_names[i]) == 0)
            return false;
    }
    return true;
}

int32_t wl_requant_file_type(enum wl_ttype t)
{
    switch (t) {
    case WL_TTYPE_F32:
        return 0;
    case WL_TTYPE_F16:
        return 1;
    case WL_TTYPE_Q4_0:
        return 2;
    case WL_TTYPE_Q8_0:
        return 7;
    case WL_TTYPE_Q4_K:
        return 14;
    case WL_TTYPE_Q6_K:
        return 18;
    case WL_TTYPE_BF16:
        return 32;
    default:
        return -1;
    }
}

void wl_requant_count_matrix(struct wl_requant_stats *st, enum wl_ttype want, enum wl_ttype dst,
                             uint64_t ne0)
{
    st->n_matrices++;
    if (dst == want) {
        st->n_requested++;
        return;
    }
    if ((unsigned)dst < WL_TTYPE_COUNT)
        st->n_fallback_to[dst]++;
    if (!st->fallback_row_min || ne0 < st->fallback_row_min)
        st->fallback_row_min = ne0;
    if (ne0 > st->fallback_row_max)
        st->fallback_row_max = ne0;
}

/* One tensor's conversion, its rows split into one contiguous range per
 * share of the pool; each share has its own row of floats. */
struct convert_job {
    const uint8_t *src;
    uint8_t *dst;
    enum wl_ttype src_type, dst_type;
    int64_t ne0;
    uint64_t n_rows;
    size_t in_row, out_row;
    float *rows;     /* nth x ne0; x 2 when check_back: the converted row read back */
    bool check_back; /* dst is not F32: a finite value can come back non-finite */
    uint8_t *raw; /* nth x in_row: aligned copies of the source rows, or NULL
                   * when src is aligned (a file with general.alignment 1 or 2
                   * can put a tensor at an odd address; the row converters
                   * read fp16 fields and floats, which must be aligned) */
    atomic_int rc;
    _Atomic int64_t bad_row; /* a row holding NaN or an infinity, -1 while none */
    _Atomic int64_t
        big_row;       /* the first row found whose finite value overflows dst, -1 while none */
    int64_t big_block; /* its block (block types), written by the thread that set big_row */
    float big_value;   /* the value that does not fit, written by that thread too */
};

/* The first i where x[i] is finite and back[i] (x converted and read back)
 * is not, or -1 (n floats each). */
static int64_t first_overflow(const float *x, const float *back, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(x[i]) && !isfinite(back[i]))
            return i;
    }
    return -1;
}

/* The value of largest magnitude among the n floats at x (n > 0, all
 * finite): the one a block's scale comes from. */
static float largest_magnitude(const float *x, int64_t n)
{
    float v = x[0];
    for (int64_t i = 1; i < n; i++) {
        if (fabsf(x[i]) > fabsf(v))
            v = x[i];
    }
    return v;
}

/* Whether the n floats at x are all finite (no NaN, no infinity). */
static bool all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return false;
    }
    return true;
}

static void convert_share(void *arg, int ith, int nth)
{
    struct convert_job *j = arg;
    int64_t begin, end;
    wl_threadpool_split((int64_t)j->n_rows, 1, ith, nth, &begin, &end);
    float *row = j->rows + (size_t)ith * (size_t)j->ne0;
    for (int64_t r = begin; r < end; r++) {
        const uint8_t *src = j->src + (size_t)r * j->in_row;
        if (j->raw) {
            uint8_t *raw = j->raw + (size_t)ith * j->in_row;
            memcpy(raw, src, j->in_row);
            src = raw;
        }
        int rc = wl_dequantize_row(j->src_type, src, row, j->ne0);
        /* a block type would hide a NaN or an infinity (its block scale
         * comes from the finite values), and the model would then run on
         * numbers its file does not hold; a float type keeps them */
        if (rc == 0 && wl_ttype_block_elems(j->dst_type) > 1 && !all_finite(row, j->ne0)) {
            atomic_store(&j->bad_row, r);
            rc = WL_EFORMAT;
        }
        uint8_t *out = j->dst + (size_t)r * j->out_row;
        if (rc == 0)
            rc = wl_quantize_row(j->dst_type, row, out, j->ne0);
        /* a float type keeps NaN and infinities, but a finite weight beyond
         * its range (F16: +-65504) would become one; a block type stores its
         * scale as fp16 too, and a weight too large for that scale (Q4_0:
         * |x| >= 524160, d = x/-8 >= 65520) makes the whole block infinite or
         * NaN. Either way the file would not hold what the model holds: the
         * converted row is read back (one dequantization per row) */
        if (rc == 0 && j->check_back) {
            float *back = j->rows + ((size_t)nth + (size_t)ith) * (size_t)j->ne0;
            rc = wl_dequantize_row(j->dst_type, out, back, j->ne0);
            const int64_t i = rc == 0 ? first_overflow(row, back, j->ne0) : -1;
            if (i >= 0) {
                /* in a block, the first broken value may be a small one: the
                 * value that does not fit is the block's largest */
                const int64_t be = (int64_t)wl_ttype_block_elems(j->dst_type);
                const int64_t blk = i / be;
                int64_t none = -1;
                if (atomic_compare_exchange_strong(&j->big_row, &none, r)) {
                    j->big_block = blk;
                    j->big_value = be > 1 ? largest_magnitude(row + blk * be, be) : row[i];
                }
                rc = WL_ERANGE;
            }
        }
        if (rc) {
            atomic_store(&j->rc, rc);
            return;
        }
    }
}

/* Converts tensor t from its type to dst_type into dst (out_bytes), on
 * pool's threads. WL_EFORMAT with *bad_row set: a row that holds NaN or an
 * infinity, which a block type cannot keep. WL_ERANGE with *big_row,
 * *big_block and *big_value set: a row holding a finite value that dst_type
 * would make infinite or NaN (F16 and BF16: the value itself; a block type:
 * its block, whose fp16 scale overflows; *big_block is the block's index in
 * the row, *big_value its largest value). */
static int wl__convert(const struct wl_gguf_tensor *t, enum wl_ttype dst_type,
                       struct wl_threadpool *pool, void *dst, int64_t *bad_row, int64_t *big_row,
                       int64_t *big_block, float *big_value)
{
    const uint64_t ne0 = t->ne[0];
    const int nth = wl_threadpool_n_threads(pool);
    struct convert_job j = {
        .src = t->data,
        .dst = dst,
        .src_type = t->type,
        .dst_type = dst_type,
        .ne0 = (int64_t)ne0,
        .n_rows = ne0 ? t->n_elements / ne0 : 0,
        .in_row = wl_quant_row_bytes(t->type, (int64_t)ne0),
        .out_row = wl_quant_row_bytes(dst_type, (int64_t)ne0),
        .check_back = dst_type != WL_TTYPE_F32,
    };
    atomic_init(&j.rc, 0);
    atomic_init(&j.bad_row, -1);
    atomic_init(&j.big_row, -1);
    /* no row, nothing to convert: no row buffer either (a tensor of 0 rows
     * may have rows of any length, 2^62 values, whose bytes are past 64 bits
     * and whose buffer cannot be had) */
    if (j.n_rows == 0)
        return 0;
    if (j.in_row == 0 || j.out_row == 0)
        return WL_EINVAL;
    j.rows =
        malloc((j.check_back ? 2u : 1u) * (size_t)nth * (ne0 ? (size_t)ne0 : 1) * sizeof *j.rows);
    if (!j.rows)
        return WL_ENOMEM;
    /* the row readers need the kernels' alignment (fp16 fields in blocks);
     * in_row is a multiple of it, so an aligned start keeps every row aligned */
    if ((uintptr_t)j.src % wl_kernel_weight_align(j.src_type) != 0) {
        j.raw = malloc((size_t)nth * (j.in_row ? j.in_row : 1)); /* malloc: max_align_t */
        if (!j.raw) {
            free(j.rows);
            return WL_ENOMEM;
        }
    }
    if (j.n_rows > 0)
        wl_threadpool_run(pool, convert_share, &j);
    free(j.raw);
    free(j.rows);
    *bad_row = atomic_load(&j.bad_row);
    *big_row = atomic_load(&j.big_row);
    *big_block = j.big_block; /* the pool's run has joined its threads */
    *big_value = j.big_value;
    return atomic_load(&j.rc);
}

/* One output tensor, produced when the writer writes it (the writer owns
 * this): copied or converted from the source, then progress reported.
 * Copied tensors go through the writer's buffer too (one memcpy each), so
 * that progress counts every tensor as it is written. */
struct requant_item {
    const struct wl_gguf_tensor *t;
    enum wl_ttype dst;
    struct wl_threadpool *pool;
    wl_requant_progress_fn progress;
    void *progress_arg;
    uint64_t done, n_tensors, bytes_done, bytes_total; /* counted through this tensor */
};

static int requant_fill(void *arg, void *dst, uint64_t n_bytes, struct wl_errmsg *err)
{
    const struct requant_item *it = arg;
    const struct wl_gguf_tensor *t = it->t;
    if (it->dst == t->type) {
        if (n_bytes) /* a tensor of 0 elements has data == NULL (gguf.h) */
            memcpy(dst, t->data, (size_t)n_bytes);
    } else {
        int64_t bad_row = -1, big_row = -1, big_block = -1;
        float big_value = 0.0f;
        int rc = wl__convert(t, it->dst, it->pool, dst, &bad_row, &big_row, &big_block, &big_value);
        if (rc && bad_row >= 0)
            return wl_errmsg_set(err, rc,
                                 "tensor '%s': row %" PRId64 " holds NaN or an infinity, which %s "
                                 "blocks cannot keep (the source model is damaged; nothing is "
                                 "quantized from it)",
                                 t->name, bad_row, wl_ttype_name(it->dst));
        if (rc && big_row >= 0 && wl_ttype_block_elems(it->dst) > 1)
            return wl_errmsg_set(err, rc,
                                 "tensor '%s': row %" PRId64 ", block %" PRId64 " holds %g, "
                                 "beyond what %s's fp16 block scale can hold, where the block "
                                 "would become infinities or NaN (nothing is quantized; a float "
                                 "type such as f32 keeps it)",
                                 t->name, big_row, big_block, (double)big_value,
                                 wl_ttype_name(it->dst));
        if (rc && big_row >= 0)
            return wl_errmsg_set(err, rc,
                                 "tensor '%s': row %" PRId64 " holds %g, beyond the range of %s, "
                                 "where it would become an infinity (nothing is quantized; a "
                                 "wider type such as f32 keeps it)",
                                 t->name, big_row, (double)big_value, wl_ttype_name(it->dst));
        if (rc)
            return wl_errmsg_set(err, rc, "tensor '%s': conversion %s -> %s failed", t->name,
                                 wl_ttype_name(t->type), wl_ttype_name(it->dst));
    }
    if (it->progress)
        it->progress(it->progress_arg, it->done, it->n_tensors, it->bytes_done, it->bytes_total);
    return 0;
}

int wl_requant_model(const wl_gguf *in, enum wl_ttype type, const struct wl_requant_opts *opts,
                     wl_gguf_writer *w, struct wl_requant_stats *stats, struct wl_errmsg *err)
{
    static const struct wl_requant_opts no_opts = {0};
    if (!opts)
        opts = &no_opts;
    struct wl_requant_stats st = {0};
    wl_errmsg_clear(err);
    if (!wl_quant_is_supported(type) || wl_requant_file_type(type) < 0)
        return wl_errmsg_set(err, WL_EINVAL,
                             "cannot quantize to %s (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, "
                             "Q6_K)",
                             wl_ttype_name(type));
    int rc;
    for (uint64_t k = 0; k < wl_gguf_n_kv(in); k++) {
        rc = wl_gguf_writer_copy_kv(w, in, k);
        if (rc)
            return wl_errmsg_set(err, rc, "cannot copy metadata key '%s'", wl_gguf_kv_key(in, k));
    }
    rc = wl_gguf_writer_set_u32(w, "general.file_type", (uint32_t)wl_requant_file_type(type));
    if (rc == 0 && wl_ttype_block_elems(type) > 1)
        rc = wl_gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (rc)
        return wl_errmsg_set(err, rc, "cannot set general.file_type");
    const uint64_t n_tensors = wl_gguf_n_tensors(in);
    uint64_t bytes_total = 0;
    for (uint64_t i = 0; i < n_tensors; i++)
        bytes_total += wl_gguf_tensor(in, i)->n_bytes;
    for (uint64_t i = 0; i < n_tensors; i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(in, i);
        const bool matrix = wl_requant_converts(t->name, t->n_dims);
        enum wl_ttype dst = matrix ? wl_requant_pick_type(type, t->n_dims, t->ne[0]) : t->type;
        uint64_t out_bytes = t->n_bytes;
        if (dst != t->type) {
            if (!wl_quant_is_supported(t->type))
                return wl_errmsg_set(err, WL_ENOTSUP,
                                     "tensor '%s' is %s, which wattlens cannot dequantize (it "
                                     "reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)",
                                     t->name, wl_ttype_name(t->type));
            rc = wl_ttype_bytes(dst, t->n_elements, &out_bytes);
            if (rc)
                return wl_errmsg_set(err, rc, "tensor '%s': size of %" PRIu64 " %s elements",
                                     t->name, t->n_elements, wl_ttype_name(dst));
        }
        st.bytes_in += t->n_bytes;
        struct requant_item *it = malloc(sizeof *it);
        if (!it)
            return wl_errmsg_set(err, WL_ENOMEM, "out of memory");
        *it = (struct requant_item){.t = t,
                                    .dst = dst,
                                    .pool = opts->pool,
                                    .progress = opts->progress,
                                    .progress_arg = opts->progress_arg,
                                    .done = i + 1,
                                    .n_tensors = n_tensors,
                                    .bytes_done = st.bytes_in,
                                    .bytes_total = bytes_total};
        rc = wl_gguf_writer_add_tensor_fill(w, t->name, dst, t->n_dims, t->ne, out_bytes,
                                            requant_fill, it);
        if (rc)
            return wl_errmsg_set(err, rc, "cannot add tensor '%s'", t->name);
        if (matrix)
            wl_requant_count_matrix(&st, type, dst, t->ne[0]);
        if (dst == t->type) {
            st.n_copied++;
        } else {
            st.n_converted++;
            if (dst != type)
                st.n_fallback++;
        }
        st.bytes_out += out_bytes;
    }
    if (stats)
        *stats = st;
    return 0;
}
