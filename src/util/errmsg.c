/* Parser/loader error messages; see errmsg.h. */
#include "util/errmsg.h"

#include "util/utf8.h"
#include "wattlens/error.h"

#include <stdarg.h>
#include <string.h>

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

int wl_errmsg_prefix(struct wl_errmsg *e, int code, const char *prefix)
{
    if (!e)
        return code;
    char old[WL_ERRMSG_SIZE];
    memcpy(old, e->text, sizeof old);
    old[sizeof old - 1] = '\0';
    if (old[0])
        return wl_errmsg_set(e, code, "%s: %s", prefix, old);
    return wl_errmsg_set(e, code, "%s: %s", prefix, wl_strerror(code));
}
