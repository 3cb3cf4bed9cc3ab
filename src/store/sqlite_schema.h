/* Ordered schema migrations of the SQLite store (sqlite_schema.c).
 * wl__sqlite_migrations[i] upgrades user_version i to i + 1; the count equals
 * WL_STORE_SCHEMA_VERSION. wl__sqlite_read_bridges[i] says whether, and
 * how, a reader that writes nothing reads a database at version i as if
 * migration i had run. Internal to src/store/.
 */
#ifndef WL_STORE_SQLITE_SCHEMA_H
#define WL_STORE_SQLITE_SCHEMA_H

#include <stddef.h>

/* PRAGMA application_id of wattlens databases ("WLNS"). */
#define WL__SQLITE_APP_ID 0x574C4E53

extern const char *const wl__sqlite_migrations[];
extern const int wl__sqlite_n_migrations;

/* A column that a migration added: NULL in every row written before it. */
struct wl__sqlite_added_column {
    const char *table, *column;
};

/* wl__sqlite_read_bridges[i], one per migration: the columns migration i
 * adds, in the order it adds them, ending with {NULL, NULL}, when all it
 * does is add nullable columns to existing tables; a read-only open of an
 * older version then shows them as NULL through TEMP views
 * (wl__bridge_old_schema) instead of migrating. NULL for a migration that
 * a reader cannot bridge (it creates, drops or rewrites something): a
 * read-only open of a version before it is refused (WL_EVERSION). */
extern const struct wl__sqlite_added_column *const wl__sqlite_read_bridges[];

/* The SQL that makes a database at version (1 <= version <= the current
 * one) read as the current schema on a connection that writes nothing: one
 * CREATE TEMP VIEW per table that later migrations added columns to,
 * named as the table (unqualified names find temp before main) and
 * selecting main's columns and then each added column as NULL, in the
 * order the migrations add them; "" for the current version. Into buf;
 * returns its length, or -1 when a migration from version on cannot be
 * bridged (or buf is too small: a programming error). */
int wl__sqlite_read_bridge_sql(int version, char *buf, size_t size);

#endif
