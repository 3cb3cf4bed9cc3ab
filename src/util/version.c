/* Library version string, set by the build. */
#include "wattlens/wattlens.h"

const char *wl_version(void)
{
    return WL_VERSION_STRING;
}
