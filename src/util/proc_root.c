/* The /proc root from a parameter, $WATTLENS_PROC_ROOT or "/proc"; see
 * proc_root.h. */
#include "util/proc_root.h"

#include <stdlib.h>

const char *wl_proc_root(const char *param)
{
    if (param && *param)
        return param;
    const char *v = getenv("WATTLENS_PROC_ROOT");
    return v && *v ? v : "/proc";
}
