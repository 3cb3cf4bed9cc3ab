/* Ordered schema migrations of the SQLite store (sqlite_schema.c).
 * wl__sqlite_migrations[i] upgrades user_version i to i + 1; the count equals
 * WL_STORE_SCHEMA_VERSION. Internal to src/store/.
 */
#ifndef WL_STORE_SQLITE_SCHEMA_H
#define WL_STORE_SQLITE_SCHEMA_H

/* PRAGMA application_id of wattlens databases ("WLNS"). */
#define WL__SQLITE_APP_ID 0x574C4E53

extern const char *const wl__sqlite_migrations[];
extern const int wl__sqlite_n_migrations;

#endif
