/* Canonical names of the hook enums (engine/hooks.h): the strings the
 * profiler stores and the dashboard compares across families. Static data;
 * thread-safe.
 */
#include "engine/hooks.h"

static const char *const phase_names[WL_PHASE_COUNT] = {
    "pre_inference", "prefill", "decode", "post_inference",
};

static const char *const section_names[WL_SECTION_COUNT] = {
    "tokenize", "input_setup", "kv_init", "embedding", "layers",
    "final_norm", "output", "sampling", "detokenize", "cleanup",
};

static const char *const component_names[WL_COMP_COUNT] = {
    "attn_norm", "q", "k", "v", "rope", "attention", "o", "ffn_norm", "gate", "up",
    "activation", "down", "qkv", "gate_up", "attn_post_norm", "ffn_post_norm",
};

static const char *const op_names[WL_OP_COUNT] = {
    "qk", "scale_mask", "softmax", "av", "gate", "up", "gate_x_up", "down",
    "norm_mean", "norm_variance", "norm_normalise", "norm_scale", "softcap",
};

const char *wl_phase_name(enum wl_phase p)
{
    return (unsigned)p < WL_PHASE_COUNT ? phase_names[p] : "unknown";
}

const char *wl_section_name(enum wl_section s)
{
    return (unsigned)s < WL_SECTION_COUNT ? section_names[s] : "unknown";
}

const char *wl_component_name(enum wl_component c)
{
    return (unsigned)c < WL_COMP_COUNT ? component_names[c] : "unknown";
}

const char *wl_op_name(enum wl_op o)
{
    return (unsigned)o < WL_OP_COUNT ? op_names[o] : "unknown";
}
