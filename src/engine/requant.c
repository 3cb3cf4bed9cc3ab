/* Whole-model (re)quantization; see requant.h. Converts one row at a time
 * (dequantize to F32, quantize to the target) so the only extra memory is the
 * output tensor and one row of floats. */
#include "engine/requant.h"

#include "engine/quant.h"
#include "wattlens/error.h"

#include <inttypes.h>
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

/* Converts a tensor of n_rows rows of ne0 elements from src_type to dst_type
 * into a new heap buffer of out_bytes. */
static int wl__convert(const struct wl_gguf_tensor *t, enum wl_ttype dst_type, void **out,
                       uint64_t out_bytes)
{
    uint64_t ne0 = t->ne[0];
    uint64_t n_rows = ne0 ? t->n_elements / ne0 : 0;
    size_t in_row = wl_quant_row_bytes(t->type, (int64_t)ne0);
    size_t out_row = wl_quant_row_bytes(dst_type, (int64_t)ne0);
    if (ne0 && (in_row == 0 || out_row == 0))
        return WL_EINVAL;
    uint8_t *dst = malloc(out_bytes ? (size_t)out_bytes : 1);
    float *row = malloc((ne0 ? (size_t)ne0 : 1) * sizeof *row);
    if (!dst || !row) {
        free(dst);
        free(row);
        return WL_ENOMEM;
    }
    const uint8_t *src = t->data;
    int rc = 0;
    for (uint64_t r = 0; r < n_rows && rc == 0; r++) {
        rc = wl_dequantize_row(t->type, src + r * in_row, row, (int64_t)ne0);
        if (rc == 0)
            rc = wl_quantize_row(dst_type, row, dst + r * out_row, (int64_t)ne0);
    }
    free(row);
    if (rc) {
        free(dst);
        return rc;
    }
    *out = dst;
    return 0;
}

int wl_requant_model(const wl_gguf *in, enum wl_ttype type, wl_gguf_writer *w,
                     struct wl_requant_stats *stats, struct wl_errmsg *err)
{
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
    for (uint64_t i = 0; i < wl_gguf_n_tensors(in); i++) {
        const struct wl_gguf_tensor *t = wl_gguf_tensor(in, i);
        enum wl_ttype dst =
            t->n_dims < 2 ? t->type : wl_requant_pick_type(type, t->n_dims, t->ne[0]);
        st.bytes_in += t->n_bytes;
        if (dst == t->type) {
            rc = wl_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data,
                                           t->n_bytes);
            if (rc)
                return wl_errmsg_set(err, rc, "cannot add tensor '%s'", t->name);
            st.n_copied++;
            st.bytes_out += t->n_bytes;
            continue;
        }
        if (!wl_quant_is_supported(t->type))
            return wl_errmsg_set(err, WL_ENOTSUP,
                                 "tensor '%s' is %s, which wattlens cannot dequantize (it reads "
                                 "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)",
                                 t->name, wl_ttype_name(t->type));
        uint64_t out_bytes;
        rc = wl_ttype_bytes(dst, t->n_elements, &out_bytes);
        if (rc)
            return wl_errmsg_set(err, rc, "tensor '%s': size of %" PRIu64 " %s elements", t->name,
                                 t->n_elements, wl_ttype_name(dst));
        void *data = NULL;
        rc = wl__convert(t, dst, &data, out_bytes);
        if (rc)
            return wl_errmsg_set(err, rc, "tensor '%s': conversion %s -> %s failed", t->name,
                                 wl_ttype_name(t->type), wl_ttype_name(dst));
        rc = wl_gguf_writer_add_tensor_owned(w, t->name, dst, t->n_dims, t->ne, data, out_bytes);
        if (rc)
            return wl_errmsg_set(err, rc, "cannot add tensor '%s'", t->name);
        st.n_converted++;
        if (dst != type)
            st.n_fallback++;
        st.bytes_out += out_bytes;
    }
    if (stats)
        *stats = st;
    return 0;
}
