/* The root override rules (a parameter, else a variable, else a default;
 * a machine's root beside its given sysfs root) and the /proc root from
 * them; see proc_root.h. */
#include "util/proc_root.h"

#include "wattlens/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wl_root_pick(const char *param, const char *env, const char *def)
{
    if (param && *param)
        return param;
    const char *v = getenv(env);
    return v && *v ? v : def;
}

const char *wl_proc_root(const char *param)
{
    return wl_root_pick(param, "WATTLENS_PROC_ROOT", "/proc");
}

/* name beside root ("<dir>/name" for "<dir>/sys") into buf; false when it
 * does not fit. */
static bool sibling(const char *root, const char *name, char *buf, size_t size)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--; /* "/x/sys/" is "/x/sys" */
    while (n > 0 && root[n - 1] != '/')
        n--; /* the parent, with its '/' */
    int len;
    if (n == 0) /* a relative root with no '/': its parent is "." */
        len = snprintf(buf, size, "./%s", name);
    else
        len = snprintf(buf, size, "%.*s%s", (int)n, root, name);
    return len >= 0 && (size_t)len < size;
}

int wl_root_beside(const char *param, const char *env, const char *def, const char *sysfs_given,
                   const char *name, char *buf, size_t size, bool *beside)
{
    const char *given = wl_root_pick(param, env, NULL);
    *beside = !given && sysfs_given;
    bool fits;
    if (*beside) {
        fits = sibling(sysfs_given, name, buf, size);
    } else {
        const int len = snprintf(buf, size, "%s", given ? given : def);
        fits = len >= 0 && (size_t)len < size;
    }
    if (!fits && size > 0)
        buf[0] = '\0';
    return fits ? 0 : WL_ERANGE;
}
