/* Parser/loader error messages; see errmsg.h. */
#include "util/errmsg.h"

#include <stdarg.h>
#include <stdio.h>

int wl_errmsg_set(struct wl_errmsg *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->text, sizeof e->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

void wl_errmsg_clear(struct wl_errmsg *e)
{
    if (e)
        e->text[0] = '\0';
}
