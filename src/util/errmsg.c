/* Parser/loader error messages; see errmsg.h. */
#include "util/errmsg.h"

#include "util/utf8.h"

#include <stdarg.h>

int wl_errmsg_set(struct wl_errmsg *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        wl_utf8_vformat(e->text, sizeof e->text, fmt, ap);
        va_end(ap);
    }
    return code;
}

void wl_errmsg_clear(struct wl_errmsg *e)
{
    if (e)
        e->text[0] = '\0';
}
