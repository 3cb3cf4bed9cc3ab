/* Tensor element types as numbered in GGUF files (the ggml type ids), with
 * their block geometry. This is the single table every engine module uses to
 * size tensors; quantization and the kernels live in engine/kernels/.
 * Static data; thread-safe.
 */
#ifndef WL_ENGINE_TENSOR_TYPE_H
#define WL_ENGINE_TENSOR_TYPE_H

#include <stdbool.h>
#include <stdint.h>

enum wl_ttype {
    WL_TTYPE_F32 = 0,
    WL_TTYPE_F16 = 1,
    WL_TTYPE_Q4_0 = 2,
    WL_TTYPE_Q4_1 = 3,
    /* 4 and 5 were Q4_2 / Q4_3, removed from the format */
    WL_TTYPE_Q5_0 = 6,
    WL_TTYPE_Q5_1 = 7,
    WL_TTYPE_Q8_0 = 8,
    WL_TTYPE_Q8_1 = 9,
    WL_TTYPE_Q2_K = 10,
    WL_TTYPE_Q3_K = 11,
    WL_TTYPE_Q4_K = 12,
    WL_TTYPE_Q5_K = 13,
    WL_TTYPE_Q6_K = 14,
    WL_TTYPE_Q8_K = 15,
    WL_TTYPE_IQ2_XXS = 16,
    WL_TTYPE_IQ2_XS = 17,
    WL_TTYPE_IQ3_XXS = 18,
    WL_TTYPE_IQ1_S = 19,
    WL_TTYPE_IQ4_NL = 20,
    WL_TTYPE_IQ3_S = 21,
    WL_TTYPE_IQ2_S = 22,
    WL_TTYPE_IQ4_XS = 23,
    WL_TTYPE_I8 = 24,
    WL_TTYPE_I16 = 25,
    WL_TTYPE_I32 = 26,
    WL_TTYPE_I64 = 27,
    WL_TTYPE_F64 = 28,
    WL_TTYPE_IQ1_M = 29,
    WL_TTYPE_BF16 = 30,
    /* 31..33 were the removed Q4_0_4_4 / Q4_0_4_8 / Q4_0_8_8 */
    WL_TTYPE_TQ1_0 = 34,
    WL_TTYPE_TQ2_0 = 35,
    WL_TTYPE_MXFP4 = 39,
    WL_TTYPE_COUNT = 40
};

/* QK_K: elements per super-block of the k-quants. */
#define WL_QK_K 256

/* True when id names a type this table knows (sizes are defined). */
bool wl_ttype_is_known(uint32_t id);

/* "F32", "Q4_K", ...; "unknown" for unknown ids. */
const char *wl_ttype_name(uint32_t id);

/* Parses a name, case-insensitive ("q8_0", "Q4_K", "bf16"); 0 or WL_EINVAL. */
int wl_ttype_parse(const char *s, enum wl_ttype *out);

/* Elements per block (1 for plain types) and bytes per block; 0 if unknown. */
uint32_t wl_ttype_block_elems(uint32_t id);
uint32_t wl_ttype_block_bytes(uint32_t id);

/* Bits per weight (block_bytes * 8 / block_elems); 0 if unknown. */
double wl_ttype_bits_per_weight(uint32_t id);

/* Bytes used by n_elements of this type. Fails with WL_EINVAL for an unknown
 * type or when n_elements is not a multiple of the block size, and with
 * WL_ERANGE on overflow. */
int wl_ttype_bytes(uint32_t id, uint64_t n_elements, uint64_t *bytes_out);

#endif
