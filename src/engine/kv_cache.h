/* The KV cache: keys and values of every layer for every cell (n_ctx cells:
 * the context's positions times its sequences).
 *
 * Layout: k and v are [layer][kv_head][cell][head_dim] in the cache type
 * (F16 by default, F32 on request), so the keys of one head are one
 * contiguous matrix and attention streams them row by row. A cell is one
 * position of one sequence: the context gives sequence s the cells
 * [s * n_ctx_seq, (s + 1) * n_ctx_seq) (n_ctx_seq: the context's n_ctx), so
 * sequences run together (batching, up to WL_CONTEXT_MAX_SEQ) never share a
 * cell, and attention reads only its own sequence's cells. The type-specific
 * inner loops of attention (q.k over positions, sum of p * v) live here so
 * the attention code does not care how the cache is stored.
 *
 * Lifetime: owned by its context; allocated once at creation. Thread-safety:
 * store from one thread; dot/accum read disjoint outputs and may run on many
 * threads at once.
 */
#ifndef WL_ENGINE_KV_CACHE_H
#define WL_ENGINE_KV_CACHE_H

#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct wl_kv_cache {
    enum wl_ttype type; /* WL_TTYPE_F16 or WL_TTYPE_F32 */
    int32_t n_layer;
    int32_t n_ctx; /* cells: the context's positions x sequences */
    int32_t n_head_kv;
    int32_t head_dim;
    size_t elem_bytes;
    void *k; /* (n_layer, n_head_kv, n_ctx, head_dim) */
    void *v; /* (n_layer, n_head_kv, n_ctx, head_dim) */
    uint64_t bytes; /* k + v */
    bool simd_f16;  /* AVX2+FMA+F16C loops usable, F16 or F32 (decided once at init) */
    bool simd512;   /* and the AVX-512 loops (head_dim % 16 == 0); needs simd_f16 */
};

/* Allocates the cache. WL_ENOTSUP for a type other than F16/F32, WL_ENOMEM
 * (with the size in the message) when it does not fit in memory. */
int wl_kv_cache_init(struct wl_kv_cache *kv, enum wl_ttype type, int32_t n_layer, int32_t n_ctx,
                     int32_t n_head_kv, int32_t head_dim, struct wl_errmsg *err);
void wl_kv_cache_free(struct wl_kv_cache *kv);

/* Bytes a cache of this shape needs (0 on overflow or bad type). */
uint64_t wl_kv_cache_bytes_for(enum wl_ttype type, int32_t n_layer, int32_t n_ctx,
                               int32_t n_head_kv, int32_t head_dim);

/* Writes n cells starting at cell of layer il: k and v are (n, n_head_kv *
 * head_dim) floats. The caller has checked cell + n <= n_ctx. */
void wl_kv_cache_store(struct wl_kv_cache *kv, int32_t il, int32_t cell, int32_t n, const float *k,
                       const float *v);

/* One head at a time. The forward pass uses the grouped forms below; these
 * are their reference (test_attention, bench_attention).
 * scores[j] = dot(q, K[il][kvh][cell0 + j]) for j in [0, n_pos). q has head_dim floats. */
void wl_kv_cache_dot(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                     int32_t n_pos, const float *q, float *scores);

/* out[d] = sum_j p[j] * V[il][kvh][cell0 + j][d] for j in [0, n_pos). */
void wl_kv_cache_accum(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                       int32_t n_pos, const float *p, float *out);

/* Grouped forms for GQA: the n_q query heads that share KV head kvh, each
 * K/V row read (and converted from F16) once for all of them, in blocks of
 * WL_KV_GROUP_ROWS rows. q is n_q rows of head_dim floats q_stride floats
 * apart; scores / p are n_q rows s_stride / p_stride floats apart (element j
 * of row g is position cell0 + j); out is n_q rows out_stride apart.
 * Bit-identical to n_q calls of wl_kv_cache_dot / wl_kv_cache_accum (same
 * per-head order of every sum). scratch: wl_kv_cache_group_scratch_floats()
 * floats owned by the calling thread. */
#define WL_KV_GROUP_ROWS 32
size_t wl_kv_cache_group_scratch_floats(int32_t head_dim);
void wl_kv_cache_dot_group(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                           int32_t n_pos, const float *q, size_t q_stride, int32_t n_q,
                           float *scores, size_t s_stride, float *scratch);
void wl_kv_cache_accum_group(const struct wl_kv_cache *kv, int32_t il, int32_t kvh, int32_t cell0,
                             int32_t n_pos, const float *p, size_t p_stride, int32_t n_q,
                             float *out, size_t out_stride, float *scratch);

#endif
