/* The built-in default model of `wattlens run`: a small synthetic llama
 * (engine/synth.h, byte-level vocabulary) generated once, deterministically,
 * into the cache directory ($XDG_CACHE_HOME/wattlens, else ~/.cache/wattlens).
 * Its weights are pseudo-random, so its text is meaningless: it exists so a
 * profile can be shown on a fresh machine without any download.
 * The file name carries the shape and a version, so a change of shape never
 * reuses a stale file. Stateless; concurrent creators are safe (the writer
 * writes a temporary file and renames it).
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

/* Makes sure the file exists (creating the directory and the model when
 * missing) and puts its path into buf. *created says whether it was made
 * now. Errors with a message naming the path. */
int wl_default_model_ensure(char *buf, size_t size, bool *created, struct wl_errmsg *err);

#endif
