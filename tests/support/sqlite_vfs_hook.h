/* A test VFS shared by the store tests that make SQLite's file I/O do
 * something at a chosen point (test_store_lost_batch.c: the write-ahead
 * log's writes fail; test_store_list_snapshot.c: another connection commits
 * from inside a -shm unlock; test_store_open_race.c: another connection
 * creates the store from inside an unlock): the default VFS, registered as
 * the default under another name, whose files of one kind get a copy of
 * the default's I/O methods with some replaced. Connections opened while it
 * is installed go through it. One hook at a time, process-wide (SQLite's
 * VFS list); install and remove it from the test's thread. A connection
 * opened through it keeps its patched methods after the removal, until the
 * next install. Test-only code.
 */
#ifndef WL_TEST_SQLITE_VFS_HOOK_H
#define WL_TEST_SQLITE_VFS_HOOK_H

#include <sqlite3.h>

/* Registers the hook as the default VFS, named name. A file opened through
 * it whose open flags include file_kind (SQLITE_OPEN_MAIN_DB,
 * SQLITE_OPEN_WAL, ...) gets the default's I/O methods as patch edited
 * them (a copy, patched once per install, at the first such open; patch
 * replaces the methods it hooks, which call wl_test_vfs_hook_base()'s).
 * Returns SQLite's code (SQLITE_OK). */
int wl_test_vfs_hook_install(const char *name, int file_kind, void (*patch)(sqlite3_io_methods *m));

/* Makes the VFS that was the default before the install the default again
 * and unregisters the hook. Nothing when none is installed. */
void wl_test_vfs_hook_remove(void);

/* The default VFS's I/O methods of the hooked files, which a patched
 * method passes the call on to; NULL before the first hooked open. */
const sqlite3_io_methods *wl_test_vfs_hook_base(void);

#endif
