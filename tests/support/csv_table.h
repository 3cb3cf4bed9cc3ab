/* Reading the run export's CSV in tests (test_run_export.c,
 * test_cli_export.c): tables, each a "# name" line, a header line and its
 * rows, then a blank line; the first, "metadata", of "field,value" rows.
 * Test-only code; every helper fails the calling cmocka test when the
 * table or field is not there.
 */
#ifndef WL_TEST_CSV_TABLE_H
#define WL_TEST_CSV_TABLE_H

#include <stddef.h>

/* How many rows table `name` of csv has (after its header line). */
size_t wl_test_csv_rows(const char *csv, const char *name);

/* The value of field `name` in the metadata table, into buf (as written:
 * quotes and escapes kept); returns buf. */
const char *wl_test_csv_field(const char *csv, const char *name, char *buf, size_t size);

/* The cell of column `col` in the first row of table `name`, into buf (a
 * cell without a quoted comma); returns buf. */
const char *wl_test_csv_cell(const char *csv, const char *name, const char *col, char *buf,
                             size_t size);

#endif
