/* mkdir -p; see mkdir_p.h. */
#include "util/mkdir_p.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int wl_mkdir_p(const char *dir)
{
    return wl_mkdir_p_made(dir, NULL, 0, NULL, 0);
}

/* The directory of a failure into where (errno kept). */
static int wl__failed_at(const char *path, char *where, size_t size)
{
    const int e = errno;
    if (where && size > 0)
        snprintf(where, size, "%s", path);
    errno = e;
    return -1;
}

int wl_mkdir_p_made(const char *dir, char *made, size_t made_size, char *where, size_t size)
{
    if (where && size > 0)
        where[0] = '\0';
    if (made && made_size > 0)
        made[0] = '\0';
    char buf[4096];
    const int n = snprintf(buf, sizeof buf, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (n == 0) {
        errno = ENOENT; /* as mkdir("") */
        return -1;
    }
    for (char *c = buf + 1;; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        const char keep = *c;
        *c = '\0';
        if (mkdir(buf, 0755) == 0) {
            if (made && made_size > 0 && !made[0])
                snprintf(made, made_size, "%s", buf);
        } else if (errno != EEXIST) {
            return wl__failed_at(buf, where, size);
        }
        *c = keep;
        if (!keep)
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0)
        return wl__failed_at(buf, where, size);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return wl__failed_at(buf, where, size);
    }
    return 0;
}
