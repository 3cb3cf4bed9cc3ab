/* The store fixture opened through the VFS hook; see store_hook_fixture.h. */
#include "store_hook_fixture.h"

#include "sqlite_vfs_hook.h"
#include "store_fixture.h"
#include "test_support.h"

int wl_test_store_hook_setup(void **state, const char *vfs_name, int file_kind,
                             void (*patch)(sqlite3_io_methods *m))
{
    int rc = wl_test_store_setup(state);
    if (rc != 0)
        return rc;
    struct wl_test_store_fixture *f = *state;
    wl_store_close(f->s);
    f->s = NULL;
    if (wl_test_vfs_hook_install(vfs_name, file_kind, patch) != SQLITE_OK)
        return -1;
    f->s = wl_test_store_open(f->path);
    return 0;
}

int wl_test_store_hook_teardown(void **state)
{
    int rc = wl_test_store_teardown(state);
    wl_test_vfs_hook_remove();
    return rc;
}
