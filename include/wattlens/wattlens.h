/* wattlens public API, umbrella header.
 *
 * Only headers under include/wattlens/ are public. Handles are opaque, names
 * carry the wl_ prefix, and errors are the negative codes of error.h.
 */
#ifndef WATTLENS_H
#define WATTLENS_H

#include "wattlens/energy.h"
#include "wattlens/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library as "MAJOR.MINOR.PATCH"; static string. */
const char *wl_version(void);

#ifdef __cplusplus
}
#endif
#endif
