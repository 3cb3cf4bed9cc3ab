/* Reading a whole stream; see read_all.h. */
#include "util/read_all.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int wl_read_stream(FILE *f, size_t initial_cap, size_t max, char **data, size_t *n)
{
    /* at most max + 1 bytes are read: the one byte past max is how a longer
     * stream is told from one of exactly max bytes (a pipe has no size) */
    const size_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
    size_t cap = initial_cap > 1 ? initial_cap : 2, len = 0;
    if (cap > limit + 1)
        cap = limit + 1; /* room for limit bytes and the NUL */
    char *buf = malloc(cap);
    errno = 0;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f); /* room for the NUL */
        len += got;
        if (got == 0 || len == limit)
            break;
        if (len + 1 == cap) {
            size_t ncap = cap <= (limit + 1) / 2 ? cap * 2 : limit + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
    }
    if (!buf)
        return ENOMEM;
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        return e;
    }
    if (len > max) {
        free(buf);
        return EFBIG;
    }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return 0;
}
