/* mkdir -p; see mkdir_p.h. */
#include "util/mkdir_p.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int wl_mkdir_p(const char *dir)
{
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
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *c = keep;
        if (!keep)
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}
