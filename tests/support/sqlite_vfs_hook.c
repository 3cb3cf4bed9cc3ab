/* The test VFS hook; see sqlite_vfs_hook.h. Its state is static: one hook
 * at a time. */
#include "sqlite_vfs_hook.h"

#include <stdbool.h>
#include <stddef.h>

static sqlite3_vfs hook_vfs, *hook_prev;
static bool hook_installed;
static int hook_kind;
static void (*hook_patch)(sqlite3_io_methods *m);
/* the default's methods of the first hooked file, and their patched copy */
static const sqlite3_io_methods *hook_base;
static sqlite3_io_methods hook_methods;

static int hook_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    int rc = hook_prev->xOpen(hook_prev, name, f, flags, out_flags);
    if (rc != SQLITE_OK || !(flags & hook_kind) || !f->pMethods)
        return rc;
    if (!hook_base) {
        hook_base = f->pMethods;
        hook_methods = *hook_base;
        hook_patch(&hook_methods);
    }
    /* same file object; only the methods patched are the test's. A file
     * with other methods (another locking style) is left alone. */
    if (f->pMethods == hook_base)
        f->pMethods = &hook_methods;
    return rc;
}

int wl_test_vfs_hook_install(const char *name, int file_kind, void (*patch)(sqlite3_io_methods *m))
{
    if (hook_installed)
        return SQLITE_MISUSE;
    hook_prev = sqlite3_vfs_find(NULL);
    if (!hook_prev)
        return SQLITE_ERROR;
    hook_vfs = *hook_prev;
    hook_vfs.zName = name;
    hook_vfs.pNext = NULL;
    hook_vfs.xOpen = hook_open;
    hook_kind = file_kind;
    hook_patch = patch;
    hook_base = NULL; /* patched anew: another test's patch may differ */
    int rc = sqlite3_vfs_register(&hook_vfs, 1);
    hook_installed = rc == SQLITE_OK;
    return rc;
}

void wl_test_vfs_hook_remove(void)
{
    if (!hook_installed)
        return;
    sqlite3_vfs_register(hook_prev, 1);
    sqlite3_vfs_unregister(&hook_vfs);
    hook_installed = false;
}

const sqlite3_io_methods *wl_test_vfs_hook_base(void)
{
    return hook_base;
}
