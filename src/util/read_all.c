/* Reading a whole stream; see read_all.h. */
#include "util/read_all.h"

#include <errno.h>
#include <stdlib.h>

int wl_read_stream(FILE *f, size_t initial_cap, char **data, size_t *n)
{
    size_t cap = initial_cap > 1 ? initial_cap : 2, len = 0;
    char *buf = malloc(cap);
    errno = 0;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f); /* room for the NUL */
        len += got;
        if (got == 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf)
        return ENOMEM;
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        return e;
    }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return 0;
}
