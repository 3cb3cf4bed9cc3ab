/* Throughput measurement of the engine, as llama-bench measures it:
 * "pp<N>" runs an N-token prompt through a fresh context (batched prefill),
 * "tg<N>" generates N tokens one decode step at a time from an empty
 * context; each test is repeated and reported as mean and sample standard
 * deviation of tokens/s. Tokens are pseudo-random ids from a fixed seed, so
 * runs are comparable. One untimed warm-up run precedes each test. With
 * n_batch > 1 the tests run that many sequences together (batching) and
 * tokens/s is for the whole batch.
 *
 * Allocates one context for all runs, of max(n_prompt, n_gen) positions per
 * sequence (each test starts from a reset one, so neither needs room for the
 * other), and frees it.
 * Thread-safety: uses the model read-only; one bench per thread.
 */
#ifndef WL_ENGINE_BENCH_H
#define WL_ENGINE_BENCH_H

#include "engine/model.h"
#include "engine/tensor_type.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stdint.h>

#define WL_BENCH_MAX_REPS 100

struct wl_bench_params {
    int32_t n_prompt;  /* 0 = no pp test */
    int32_t n_gen;     /* 0 = no tg test */
    int32_t reps;      /* 1..WL_BENCH_MAX_REPS */
    int32_t n_threads; /* 0 = the CPUs it may run on (wl_threadpool_default_threads) */
    int32_t n_ubatch;  /* 0 = context default */
    enum wl_ttype kv_type;
    bool warmup;
    int32_t n_batch;   /* sequences run together (1..WL_CONTEXT_MAX_SEQ; 0 = 1): pp runs
                        * n_batch prompts of n_prompt tokens in one prefill, tg runs
                        * n_gen decode steps of n_batch tokens each; t/s counts all */
};

struct wl_bench_result {
    char test[24];     /* "pp512", "tg128"; " x4" appended for a batch of 4 sequences */
    int32_t n_batch;   /* sequences run together */
    int32_t n_ubatch;  /* tokens per forward batch of the context the test ran in
                        * (wl_context_n_ubatch): the n_ubatch asked for (default 64),
                        * raised to n_batch and capped at its positions x n_batch */
    int32_t n_prompt;  /* as llama-bench: n_prompt for pp tests, 0 for tg */
    int32_t n_gen;
    int32_t reps;
    uint64_t samples_ns[WL_BENCH_MAX_REPS];
    double samples_ts[WL_BENCH_MAX_REPS];
    /* whole nanoseconds: the mean and the sample standard deviation of
     * samples_ns truncated, as llama-bench's (computed over uint64_t), so
     * every output prints the same number */
    uint64_t avg_ns, stddev_ns;
    double avg_ts, stddev_ts;
    int64_t test_time_s; /* wall clock (Unix seconds) at the start of the test */
};

struct wl_bench_params wl_bench_default_params(void);

/* Runs the pp and/or tg tests; results in out[0..*n_out). progress, when not
 * NULL, is called before each timed repetition. */
int wl_bench_run(const wl_model *m, const struct wl_bench_params *p, struct wl_bench_result out[2],
                 int *n_out, void (*progress)(void *ud, const char *test, int rep), void *ud,
                 struct wl_errmsg *err);

/* The weight type holding most of the model's matrix bytes ("Q8_0"). */
enum wl_ttype wl_model_main_type(const wl_model *m);

/* llama-bench's model_size and model_n_params: the data bytes and the
 * elements of every tensor in the model file (llama_model_size and
 * llama_model_n_params sum ggml_nbytes and ggml_nelements over the file's
 * tensors): not the file size, which adds the header, the metadata and the
 * alignment padding. */
void wl_model_file_totals(const wl_model *m, uint64_t *bytes, uint64_t *params);

/* llama-bench's model_type (llama_model_desc) into buf: "ARCH SIZE FTYPE",
 * e.g. "llama 1B Q8_0" or "qwen2 7B Q4_K - Medium". SIZE is llama.cpp's size
 * class for the architecture and layer count (its table, taken as it is:
 * "1B" for a 16- or 22-layer llama), "?B" where llama.cpp has none (so for
 * every small or synthetic model). FTYPE is the name of general.file_type;
 * without that key, llama.cpp's guess from the type most tensors have,
 * followed by " (guessed)" as llama_model_ftype_name writes it:
 * "llama ?B all F32 (guessed)". */
void wl_model_describe(const wl_model *m, char *buf, size_t size);

#endif
