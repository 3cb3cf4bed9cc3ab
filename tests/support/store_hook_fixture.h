/* The store fixture (store_fixture.h) with its store opened through the
 * test VFS hook (sqlite_vfs_hook.h), for the store tests that make SQLite's
 * file I/O fail or do something at a chosen point (test_store_lost_batch.c,
 * test_store_list_snapshot.c, test_store_read_error.c). The order is the
 * point: the store is opened again after the hook is installed (a
 * connection keeps the methods it was opened with), and closed before the
 * hook is removed. Test-only code.
 */
#ifndef WL_TEST_STORE_HOOK_FIXTURE_H
#define WL_TEST_STORE_HOOK_FIXTURE_H

#include <sqlite3.h>

/* cmocka setup of a struct wl_test_store_fixture (wl_test_store_setup)
 * whose store is closed, the hook installed as wl_test_vfs_hook_install
 * (vfs_name, file_kind, patch) says, and the store opened again through
 * it. A test file's own setup resets the state its patched methods read
 * first. Returns 0, or -1 when the hook cannot be installed. */
int wl_test_store_hook_setup(void **state, const char *vfs_name, int file_kind,
                             void (*patch)(sqlite3_io_methods *m));

/* cmocka teardown: the fixture's (the store closed, its directory
 * removed), then the hook removed. */
int wl_test_store_hook_teardown(void **state);

#endif
