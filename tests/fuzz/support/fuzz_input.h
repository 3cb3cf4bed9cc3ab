/* Reading a fuzz input one field at a time, for the targets that build a
 * file or text from fuzzed fields (fuzz_model_load, fuzz_tok_gguf,
 * fuzz_hugepage, fuzz_proc_stat, fuzz_sensor_parse). Past the end
 * of the input every reader gives zeros or fewer bytes, so that every
 * input, however short, describes a whole file. A struct wl_fuzz_input
 * points into the caller's input and owns nothing. Test-only code.
 */
#ifndef WL_FUZZ_INPUT_H
#define WL_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* The input not read yet: n bytes at p. */
struct wl_fuzz_input {
    const uint8_t *p;
    size_t n;
};

/* The next byte; 0 at the end of the input. */
uint8_t wl_fuzz_take_u8(struct wl_fuzz_input *in);

/* Up to n bytes (fewer at the end of the input, their count into *got): a
 * pointer into the input. */
const uint8_t *wl_fuzz_take_bytes(struct wl_fuzz_input *in, size_t n, size_t *got);

/* n bytes into dst, zero-filled past the end of the input. */
void wl_fuzz_take_into(struct wl_fuzz_input *in, void *dst, size_t n);

/* The next 8 bytes as a big-endian number; fewer at the end of the input
 * make a smaller one (2 bytes left: 0..65535), none 0. */
uint64_t wl_fuzz_take_u64(struct wl_fuzz_input *in);

#endif
