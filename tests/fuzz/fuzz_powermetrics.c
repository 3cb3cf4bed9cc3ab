/* Fuzz target: the powermetrics stream splitter and plist sample parser.
 * The first byte picks the chunk size the stream is fed in, so splitting
 * across chunk boundaries is exercised too; every document is parsed. */
#include "sensors/powermetrics_parse.h"

#include <stddef.h>
#include <stdint.h>

static void on_doc(void *ud, const char *doc, size_t len)
{
    struct wl_pm_sample s;
    struct wl_errmsg em;
    unsigned *n = ud;
    if (wl_pm_parse(doc, len, &s, &em) == 0)
        (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct wl_pm_splitter sp;
    unsigned n = 0;
    wl_pm_splitter_init(&sp, 1 << 16);
    for (size_t off = 0; off < size; off += chunk) {
        size_t k = size - off < chunk ? size - off : chunk;
        if (wl_pm_splitter_feed(&sp, (const char *)data + off, k, on_doc, &n) != 0)
            break;
    }
    wl_pm_splitter_finish(&sp, on_doc, &n);
    wl_pm_splitter_free(&sp);
    return 0;
}
