/* A scratch directory removed at exit; see fuzz_scratch.h. */
#include "fuzz_scratch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* The directory, and what was made in it (files and directories, relative
 * paths, in the order made): removed in reverse at exit. */
static char dir[4096];
static char made[32][96];
static bool made_is_dir[32];
static size_t n_made;

static void remove_scratch(void)
{
    for (size_t i = n_made; i-- > 0;) {
        char p[sizeof dir + 128];
        wl_fuzz_scratch_path(p, sizeof p, made[i]);
        if (made_is_dir[i])
            rmdir(p);
        else
            unlink(p);
    }
    rmdir(dir);
}

const char *wl_fuzz_scratch_dir(const char *prefix)
{
    if (!dir[0]) {
        /* under TMPDIR, as every other test helper; named after the target
         * and the pid, as libFuzzer's crash, timeout and -max_total_time
         * exits (_Exit) skip the atexit removal: a leftover is
         * TMPDIR/wl-fuzz-scratch.<prefix>.<pid>.*, that of a pid gone */
        const char *tmp = getenv("TMPDIR");
        char tmpl[sizeof dir];
        const int n = snprintf(tmpl, sizeof tmpl, "%s/wl-fuzz-scratch.%s.%ld.XXXXXX",
                               tmp && *tmp ? tmp : "/tmp", prefix, (long)getpid());
        CHECK(n > 0 && (size_t)n < sizeof tmpl && mkdtemp(tmpl) != NULL);
        memcpy(dir, tmpl, sizeof dir);
        atexit(remove_scratch);
    }
    return dir;
}

void wl_fuzz_scratch_path(char *buf, size_t size, const char *rel)
{
    CHECK(dir[0]);
    const int n = snprintf(buf, size, "%s/%s", dir, rel);
    CHECK(n > 0 && (size_t)n < size);
}

/* Notes rel as made, once. */
static void note_made(const char *rel, bool is_dir)
{
    for (size_t i = 0; i < n_made; i++)
        if (strcmp(made[i], rel) == 0)
            return;
    CHECK(n_made < sizeof made / sizeof made[0] && strlen(rel) < sizeof made[0]);
    strcpy(made[n_made], rel);
    made_is_dir[n_made++] = is_dir;
}

void wl_fuzz_scratch_write(const char *rel, const void *data, size_t len)
{
    char p[sizeof dir + 128];
    wl_fuzz_scratch_path(p, sizeof p, rel);
    /* the parents, outermost first */
    for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
        char parent[96];
        CHECK((size_t)(s - rel) < sizeof parent);
        memcpy(parent, rel, (size_t)(s - rel));
        parent[s - rel] = '\0';
        char pp[sizeof dir + 128];
        wl_fuzz_scratch_path(pp, sizeof pp, parent);
        struct stat st;
        if (stat(pp, &st) != 0) {
            CHECK(mkdir(pp, 0700) == 0);
            note_made(parent, true);
        }
    }
    note_made(rel, false);
    unlink(p); /* a new file: see the header */
    FILE *f = fopen(p, "wb");
    CHECK(f && (len == 0 || fwrite(data, 1, len, f) == len) && fclose(f) == 0);
}
