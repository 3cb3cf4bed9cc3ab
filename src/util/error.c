/* The one error table: code -> name and message. Static data, thread-safe. */
#include "wattlens/error.h"

#include <errno.h>
#include <stddef.h>

struct wl_error_entry {
    int code;
    const char *name;
    const char *msg;
};

static const struct wl_error_entry wl_error_table[] = {
    {WL_OK, "WL_OK", "success"},
    {WL_EINVAL, "WL_EINVAL", "invalid argument"},
    {WL_ENOMEM, "WL_ENOMEM", "out of memory"},
    {WL_EIO, "WL_EIO", "input/output error"},
    {WL_ENOENT, "WL_ENOENT", "not found"},
    {WL_EACCES, "WL_EACCES", "permission denied"},
    {WL_ENOTSUP, "WL_ENOTSUP", "not supported on this machine"},
    {WL_EFORMAT, "WL_EFORMAT", "malformed input"},
    {WL_ERANGE, "WL_ERANGE", "value out of range"},
    {WL_EBUSY, "WL_EBUSY", "resource busy or locked"},
    {WL_EVERSION, "WL_EVERSION", "unsupported version"},
    {WL_ESENSOR, "WL_ESENSOR", "sensor read failed"},
    {WL_ESTATE, "WL_ESTATE", "invalid state for this call"},
    {WL_ECANCELED, "WL_ECANCELED", "cancelled"},
    {WL_EFULL, "WL_EFULL", "capacity exhausted"},
    {WL_ETIMEDOUT, "WL_ETIMEDOUT", "timed out"},
    {WL_EDB, "WL_EDB", "database error"},
    {WL_EEXIST, "WL_EEXIST", "already exists"},
    {WL_ECHILD, "WL_ECHILD", "child process failed"},
};

static const struct wl_error_entry *wl__error_find(int code)
{
    for (size_t i = 0; i < sizeof wl_error_table / sizeof wl_error_table[0]; i++) {
        if (wl_error_table[i].code == code)
            return &wl_error_table[i];
    }
    return NULL;
}

const char *wl_strerror(int code)
{
    const struct wl_error_entry *e = wl__error_find(code);
    return e ? e->msg : "unknown error";
}

const char *wl_strerror_name(int code)
{
    const struct wl_error_entry *e = wl__error_find(code);
    return e ? e->name : "WL_E?";
}

int wl_error_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return WL_OK;
    case ENOENT:
    case ENOTDIR:
        return WL_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return WL_EACCES;
    case ENOMEM:
        return WL_ENOMEM;
    case EINVAL:
        return WL_EINVAL;
    case EBUSY:
    case EAGAIN:
        return WL_EBUSY;
    case ENOTSUP:
#if defined(EOPNOTSUPP) && EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENODEV:
    case ENXIO:
        return WL_ENOTSUP;
    case ERANGE:
    case EOVERFLOW:
        return WL_ERANGE;
    case EEXIST:
        return WL_EEXIST;
    case ETIMEDOUT:
        return WL_ETIMEDOUT;
    case ECANCELED:
        return WL_ECANCELED;
    default:
        return WL_EIO;
    }
}
