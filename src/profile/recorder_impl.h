/* The inference recorder's private parts: its records and state (struct
 * wl_recorder, the slots and section records the engine side fills and the
 * writer reads), shared by recorder.c (lifecycle: create, start, stop,
 * totals, finish), recorder_hooks.c (the engine thread's hook callback)
 * and recorder_writer.c (the writer thread: records to store rows, window
 * energies). Not a public header; threading rules as in recorder.c.
 */
#ifndef WL_PROFILE_RECORDER_IMPL_H
#define WL_PROFILE_RECORDER_IMPL_H

#include "profile/recorder.h"
#include "sampler/sampler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_MAX_DEFAULT 256     /* a token's text kept whole up to this (params: 0) */
#define TEXT_MAX_LIMIT (1 << 20) /* max_text_bytes beyond this is refused */
#define OPS_PER_LAYER 32         /* distinct (component, op) pairs per layer */
#define SAMPLE_BATCH 1024
/* Generation samples held back from the peaks until a section end shows
 * they lie inside the generation: those of the section under way, so ~10 s
 * of samples at the default 10 ms (a longer section's oldest go in early:
 * a later section end is all but certain) */
#define HELD_CAP 1024

struct sec_rec {
    uint8_t phase, section;
    int64_t token_index; /* decode: the output token's index; -1 otherwise */
    struct wl_energy_mark begin, end;
};

struct comp_rec {
    uint64_t dur_ns, t_begin_ns;
    uint32_t n_calls;
    /* activation statistics accumulated over calls */
    uint64_t n_vals, n_zero;
    double sum_abs, sum, sum_sq;
    float max_abs;
};

struct op_rec {
    uint8_t comp, op;
    uint32_t n_calls; /* 0: this (component, op) did not run in this layer and slot */
    uint64_t dur_ns, t_begin_ns;
    uint32_t n_att, n_kill, n_var;
    double entropy, max_weight, sparsity; /* sums over heads x calls */
    double kill, var_ratio;               /* sums over calls */
};

enum slot_kind { SLOT_PREFILL, SLOT_OUTPUT };

struct slot {
    uint8_t kind;
    bool failed; /* output: the step produced no token (TOKEN end with n_tok 0) */
    bool has_forward;
    bool has_layers_window;
    int32_t pos, n_tok;  /* prefill: first input token, count; output: position, sequences */
    int64_t token_index; /* store key: prefill: last input token; output: n_prompt + i */
    int32_t out_index;   /* output: i (the decode round) */
    struct wl_energy_mark begin, end; /* token (or batch) window */
    struct wl_energy_window layers;   /* the LAYERS section: the attribution window */
    char *text; /* (text_cap + 1) bytes in the recorder's texts, NUL-terminated */
    uint32_t text_len;
    /* the headline power (W) of the sampler's latest sample at the token's
     * end, when that sample lies inside the token and has every headline
     * domain's power (has_power); a sample, not a snapshot at the end */
    bool has_power;
    double power_w;
};

struct wl_recorder {
    struct wl_recorder_params p;
    wl_sensor_set *set;
    wl_sampler *smp;
    wl_store_run *run;
    struct wl_domain_info dom[WL_DOMAIN_COUNT]; /* the sampler's, fixed after its open */
    uint16_t headline_mask;
    enum wl_method headline_method;
    char scope[64];
    struct wl_energy_mark origin, start, last;
    bool started;
    /* the last wl_recorder_start succeeded; when not (none yet, or it
     * failed), nothing was recorded, start_err says why, and finish stores
     * the run as failed */
    bool recorded;
    char start_err[96];

    /* preallocated records */
    struct sec_rec *secs;
    size_t cap_secs, n_secs;
    struct slot *slots;
    size_t cap_slots, n_slots;
    char *texts;            /* (slots, text_cap + 1) output tokens' texts */
    size_t text_cap;        /* bytes of a token's text kept */
    uint64_t *layer_dur;    /* (slots, n_layer) */
    uint64_t *layer_t0;     /* (n_layer) begin times of the open slot */
    struct comp_rec *comps; /* (slots, n_layer, WL_COMP_COUNT) */
    struct op_rec *ops;     /* (slots, n_layer, OPS_PER_LAYER) */
    /* (component, op) -> position + 1 in a layer's op records, assigned on
     * first sight (engine thread only): a direct index, no search per hook */
    uint8_t op_pos[WL_COMP_COUNT][WL_OP_COUNT];
    uint8_t n_op_kinds;
    float *heads;      /* (slots, n_layer, 3, n_head): entropy, max, sparsity sums */
    uint32_t *heads_n; /* (slots, n_layer) calls summed into heads */
    uint64_t dropped;

    /* engine-thread state */
    struct slot *cur; /* open slot or NULL */
    size_t cur_lbase; /* index of the open slot x n_layer (row of its layer arrays) */
    int32_t cur_out;  /* open output token index or -1 */
    struct wl_energy_mark tok_begin;
    int32_t n_input; /* input tokens so far: prompt batches in evaluation order */
    int32_t cur_phase;

    /* publication (engine -> writer) */
    atomic_size_t pub_secs, pub_slots;

    /* writer thread */
    pthread_t thread;
    bool thread_running;
    atomic_int stop;
    size_t w_secs, w_slots;
    struct wl_sample *sbuf;
    struct wl_store_sample *ssbuf;
    uint64_t n_samples;
    /* the generation's peaks (wl_span_peak over start .. last), writer
     * thread until the join, then the controller: a sample tagged with a
     * phase waits in a ring until a published section end comes after it,
     * since the peak's spans end at the last mark, which the stream of
     * samples runs past */
    struct wl_span_peak span[WL_DOMAIN_COUNT];
    struct wl_sample *held; /* (HELD_CAP) ring */
    size_t held_head, held_n;
    struct wl_peak peak[WL_DOMAIN_COUNT]; /* the result, set by wl_recorder_stop */
    int store_err;
    char store_err_text[256];
    /* sums for the totals over the known energies (writer thread, read
     * after join), and the rows stored without one */
    double sum_sections_j, sum_in_j, sum_out_j, prefill_j, decode_j;
    int64_t n_in_rows, n_out_rows, n_out_tokens, n_failed_steps;
    int64_t n_secs_unknown, n_rows_unknown;
    /* rows without energy because a headline domain's counter was not
     * measuring over them (stuck: wl_sampler_stuck_over), and the domains
     * any row or the run lost so (writer thread, read after join) */
    int64_t n_secs_stuck, n_rows_stuck;
    uint16_t stuck_mask;
};
/* ---- recorder_writer.c: window energies (any thread holding r) ---------------- */

/* One domain's energy (J) between two marks. */
double wl__recorder_mark_delta_j(const struct wl_energy_mark *a, const struct wl_energy_mark *b,
                                 enum wl_domain d);
/* The headline energy between two marks; NaN when either lacks a headline
 * domain's reading. */
double wl__recorder_headline_j(const struct wl_recorder *r, const struct wl_energy_mark *a,
                               const struct wl_energy_mark *b);
/* a and b without the domains stuck over the window, into *a2, *b2;
 * returns those domains. */
uint16_t wl__recorder_usable_marks(struct wl_recorder *r, const struct wl_energy_mark *a,
                                   const struct wl_energy_mark *b, struct wl_energy_mark *a2,
                                   struct wl_energy_mark *b2);
/* t_ns in ms since the recorder's origin mark. */
double wl__recorder_rel_ms(const struct wl_recorder *r, uint64_t t_ns);

/* ---- recorder_writer.c: the writer (writer thread, or the controller when
 * no writer thread runs) ---------------------------------------------------------- */

/* Keeps the first store error rc (not 0) with what failed. */
void wl__recorder_store_fail(struct wl_recorder *r, int rc, const char *what);
/* Adds the held generation samples before end_ns to the peaks. */
void wl__recorder_held_add_before(struct wl_recorder *r, uint64_t end_ns);
/* Drains the sampler into the store; generation samples before end_ns go
 * to the peaks. */
void wl__recorder_write_samples(struct wl_recorder *r, uint64_t end_ns);
/* Writes everything published so far; last: the final pass (waits for no
 * undecided window). */
void wl__recorder_write_published(struct wl_recorder *r, bool last);
/* The writer thread's body (pthread_create; arg is the recorder). */
void *wl__recorder_writer_main(void *arg);

#endif
