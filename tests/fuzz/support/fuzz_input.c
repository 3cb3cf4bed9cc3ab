/* Reading a fuzz input one field at a time; see fuzz_input.h. */
#include "fuzz_input.h"

#include <string.h>

uint8_t wl_fuzz_take_u8(struct wl_fuzz_input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

const uint8_t *wl_fuzz_take_bytes(struct wl_fuzz_input *in, size_t n, size_t *got)
{
    *got = n < in->n ? n : in->n;
    const uint8_t *s = in->p;
    in->p += *got;
    in->n -= *got;
    return s;
}

void wl_fuzz_take_into(struct wl_fuzz_input *in, void *dst, size_t n)
{
    size_t got;
    const uint8_t *s = wl_fuzz_take_bytes(in, n, &got);
    memset(dst, 0, n);
    memcpy(dst, s, got);
}

uint64_t wl_fuzz_take_u64(struct wl_fuzz_input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && in->n > 0; i++, in->p++, in->n--)
        v = v << 8 | *in->p;
    return v;
}
