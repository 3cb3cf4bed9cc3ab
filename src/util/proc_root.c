/* The root override rule (a parameter, else a variable, else a default)
 * and the /proc root from it; see proc_root.h. */
#include "util/proc_root.h"

#include <stdlib.h>

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
