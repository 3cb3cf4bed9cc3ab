/* Reading the run export's CSV in tests; see csv_table.h. */
#include "csv_table.h"

#include "test_support.h"

#include <stdio.h>
#include <string.h>

/* The line after table name's "# name" line (its header line). */
static const char *table_header(const char *csv, const char *name)
{
    char head[64];
    snprintf(head, sizeof head, "# %s\n", name);
    const char *p = strstr(csv, head);
    if (!p)
        fail_msg("no table %s in the CSV", name);
    return p + strlen(head);
}

size_t wl_test_csv_rows(const char *csv, const char *name)
{
    const char *p = strchr(table_header(csv, name), '\n');
    assert_non_null(p);
    size_t n = 0;
    for (p++; *p && *p != '\n'; p = strchr(p, '\n') + 1)
        n++;
    return n;
}

const char *wl_test_csv_field(const char *csv, const char *name, char *buf, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s,", name);
    const char *p = strstr(csv, key);
    if (!p)
        fail_msg("no field %s in the CSV", name);
    p += strlen(key);
    snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
    return buf;
}

const char *wl_test_csv_cell(const char *csv, const char *name, const char *col, char *buf,
                             size_t size)
{
    const char *p = table_header(csv, name);
    const char *row = strchr(p, '\n') + 1;
    const size_t len = strlen(col);
    size_t k = 0; /* col's position in the header line (no quoted names there) */
    for (const char *h = p; strncmp(h, col, len) != 0 || (h[len] != ',' && h[len] != '\n');) {
        h = strpbrk(h, ",\n");
        if (!h || *h == '\n')
            fail_msg("no column %s in %s", col, name);
        h++;
        k++;
    }
    for (; k > 0; k--)
        row = strchr(row, ',') + 1;
    snprintf(buf, size, "%.*s", (int)strcspn(row, ",\n"), row);
    return buf;
}
