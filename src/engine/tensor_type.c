/* The tensor type table; see tensor_type.h. Sizes follow the GGUF/ggml block
 * layouts (for example Q4_K: 256 weights in 2+2+12+128 = 144 bytes). */
#include "engine/tensor_type.h"

#include "wattlens/error.h"

#include <ctype.h>
#include <string.h>

struct wl_ttype_info {
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
};

static const struct wl_ttype_info wl_ttype_table[WL_TTYPE_COUNT] = {
    [WL_TTYPE_F32] = {"F32", 1, 4},
    [WL_TTYPE_F16] = {"F16", 1, 2},
    [WL_TTYPE_Q4_0] = {"Q4_0", 32, 18},
    [WL_TTYPE_Q4_1] = {"Q4_1", 32, 20},
    [WL_TTYPE_Q5_0] = {"Q5_0", 32, 22},
    [WL_TTYPE_Q5_1] = {"Q5_1", 32, 24},
    [WL_TTYPE_Q8_0] = {"Q8_0", 32, 34},
    [WL_TTYPE_Q8_1] = {"Q8_1", 32, 36},
    [WL_TTYPE_Q2_K] = {"Q2_K", WL_QK_K, 84},
    [WL_TTYPE_Q3_K] = {"Q3_K", WL_QK_K, 110},
    [WL_TTYPE_Q4_K] = {"Q4_K", WL_QK_K, 144},
    [WL_TTYPE_Q5_K] = {"Q5_K", WL_QK_K, 176},
    [WL_TTYPE_Q6_K] = {"Q6_K", WL_QK_K, 210},
    [WL_TTYPE_Q8_K] = {"Q8_K", WL_QK_K, 292},
    [WL_TTYPE_IQ2_XXS] = {"IQ2_XXS", WL_QK_K, 66},
    [WL_TTYPE_IQ2_XS] = {"IQ2_XS", WL_QK_K, 74},
    [WL_TTYPE_IQ3_XXS] = {"IQ3_XXS", WL_QK_K, 98},
    [WL_TTYPE_IQ1_S] = {"IQ1_S", WL_QK_K, 50},
    [WL_TTYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [WL_TTYPE_IQ3_S] = {"IQ3_S", WL_QK_K, 110},
    [WL_TTYPE_IQ2_S] = {"IQ2_S", WL_QK_K, 82},
    [WL_TTYPE_IQ4_XS] = {"IQ4_XS", WL_QK_K, 136},
    [WL_TTYPE_I8] = {"I8", 1, 1},
    [WL_TTYPE_I16] = {"I16", 1, 2},
    [WL_TTYPE_I32] = {"I32", 1, 4},
    [WL_TTYPE_I64] = {"I64", 1, 8},
    [WL_TTYPE_F64] = {"F64", 1, 8},
    [WL_TTYPE_IQ1_M] = {"IQ1_M", WL_QK_K, 56},
    [WL_TTYPE_BF16] = {"BF16", 1, 2},
    [WL_TTYPE_TQ1_0] = {"TQ1_0", WL_QK_K, 54},
    [WL_TTYPE_TQ2_0] = {"TQ2_0", WL_QK_K, 66},
    [WL_TTYPE_MXFP4] = {"MXFP4", 32, 17},
};

bool wl_ttype_is_known(uint32_t id)
{
    return id < WL_TTYPE_COUNT && wl_ttype_table[id].name != NULL;
}

const char *wl_ttype_name(uint32_t id)
{
    return wl_ttype_is_known(id) ? wl_ttype_table[id].name : "unknown";
}

int wl_ttype_parse(const char *s, enum wl_ttype *out)
{
    if (!s)
        return WL_EINVAL;
    for (uint32_t i = 0; i < WL_TTYPE_COUNT; i++) {
        const char *n = wl_ttype_table[i].name;
        if (!n)
            continue;
        size_t k = 0;
        while (n[k] && s[k] && toupper((unsigned char)s[k]) == n[k])
            k++;
        if (n[k] == '\0' && s[k] == '\0') {
            *out = (enum wl_ttype)i;
            return 0;
        }
    }
    return WL_EINVAL;
}

uint32_t wl_ttype_block_elems(uint32_t id)
{
    return wl_ttype_is_known(id) ? wl_ttype_table[id].block_elems : 0;
}

uint32_t wl_ttype_block_bytes(uint32_t id)
{
    return wl_ttype_is_known(id) ? wl_ttype_table[id].block_bytes : 0;
}

double wl_ttype_bits_per_weight(uint32_t id)
{
    if (!wl_ttype_is_known(id))
        return 0.0;
    return 8.0 * wl_ttype_table[id].block_bytes / wl_ttype_table[id].block_elems;
}

int wl_ttype_bytes(uint32_t id, uint64_t n_elements, uint64_t *bytes_out)
{
    if (!wl_ttype_is_known(id))
        return WL_EINVAL;
    uint64_t be = wl_ttype_table[id].block_elems;
    if (n_elements % be != 0)
        return WL_EINVAL;
    uint64_t blocks = n_elements / be;
    uint64_t bb = wl_ttype_table[id].block_bytes;
    if (blocks > UINT64_MAX / bb)
        return WL_ERANGE;
    *bytes_out = blocks * bb;
    return 0;
}
