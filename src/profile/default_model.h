/* The built-in default model of `wattlens run`: a small synthetic llama
 * (engine/synth.h, byte-level vocabulary) generated once, deterministically,
 * into the cache directory ($XDG_CACHE_HOME/wattlens, else ~/.cache/wattlens).
 * Its weights are pseudo-random, so its text is meaningless: it exists so a
 * profile can be shown on a fresh machine without any download.
 * The file name carries the shape and a version, so a change of shape never
 * reuses a stale file; a damaged file (a crash of another program, a full
 * disk, a truncation) is found when it is opened and written again. Stateless; concurrent creators
 * are safe (the writer writes a temporary file and renames it).
 */
#ifndef WL_PROFILE_DEFAULT_MODEL_H
#define WL_PROFILE_DEFAULT_MODEL_H

#include "engine/synth.h"
#include "util/errmsg.h"

#include <stdbool.h>
#include <stddef.h>

/* The default model's shape (8 layers, dim 512, ffn 1376, 8 heads, vocab 512, Q8_0, seed 7). */
void wl_default_model_params(struct wl_synth_params *p);

/* Path of the default model into buf. WL_ERANGE / WL_ENOENT (no HOME). */
int wl_default_model_path(char *buf, size_t size);

/* What wl_default_model_ensure found and did. */
struct wl_default_model_status {
    bool created;  /* the model was written now (it was missing or replaced) */
    bool replaced; /* a file was there but was not the built-in model */
    char why[256]; /* when replaced: what was wrong with it (names no path) */
};

/* Makes sure the file holds the built-in model and puts its path into buf:
 * a file that is there is opened and checked (a valid GGUF whose
 * architecture, shape, metadata and every weight are those of
 * wl_default_model_params: a truncated or overwritten file fails), and one
 * that is not the model is written again, as a missing one is (the writer
 * replaces it atomically; the directory is created when missing). st says
 * what happened. Errors with a message naming the path. */
int wl_default_model_ensure(char *buf, size_t size, struct wl_default_model_status *st,
                            struct wl_errmsg *err);

#endif
