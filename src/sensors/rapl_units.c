/* Which CPU each RAPL unit is read through (wl__rapl_package_units,
 * sensor_impl.h): shared by rapl-msr, which reads its counters there, and
 * rapl-powercap, which reads each package's energy unit there. */
#include "sensors/sensor_impl.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
    return wl__name_cmp_natural((*a)->d_name, (*b)->d_name);
}

unsigned wl__rapl_package_units(const char *sysfs, bool by_die, struct wl__rapl_unit *units,
                                unsigned max, unsigned *n_more)
{
    unsigned n = 0, n_seen = 0;
    *n_more = 0;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/devices/system/cpu", sysfs);
    struct dirent **list = NULL;
    const int n_list = scandir(dir, &list, NULL, cmp_dirent);
    struct wl__rapl_unit *seen = n_list > 0 ? malloc((size_t)n_list * sizeof *seen) : NULL;
    for (int i = 0; seen && i < n_list; i++) {
        const int cpu = wl__sysfs_cpu_number(list[i]->d_name);
        struct wl__rapl_unit u;
        if (cpu < 0 || wl__rapl_unit_read(sysfs, cpu, by_die, &u) != 0)
            continue; /* not a CPU, or an offline one */
        bool dup = false;
        for (unsigned k = 0; k < n_seen && !dup; k++)
            dup = seen[k].pkg == u.pkg && seen[k].die == u.die;
        if (dup)
            continue;
        seen[n_seen++] = u;
        if (n < max)
            units[n++] = u;
        else
            (*n_more)++;
    }
    for (int i = 0; i < n_list; i++)
        free(list[i]);
    free(list);
    free(seen);
    if (n_seen == 0 && max > 0) /* no topology: assume one package on CPU 0 */
        units[n++] = (struct wl__rapl_unit){.cpu = 0, .pkg = 0, .die = 0};
    return n;
}
