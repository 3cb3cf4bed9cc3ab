/* The built-in default model; see default_model.h. */
#include "profile/default_model.h"

#include "engine/gguf_write.h"
#include "wattlens/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wl_default_model_params(struct wl_synth_params *p)
{
    wl_synth_default_params(p);
    p->n_layers = 8;
    p->dim = 512;
    p->ffn = 1376;
    p->n_heads = 8;
    p->n_kv_heads = 8;
    p->vocab_size = 512;
    p->type = WL_TTYPE_Q8_0;
    p->seed = 7;
    p->context_length = 2048;
}

static int cache_dir(char *buf, size_t size)
{
    const char *x = getenv("XDG_CACHE_HOME");
    int n;
    if (x && x[0] == '/') {
        n = snprintf(buf, size, "%s/wattlens", x);
    } else {
        const char *home = getenv("HOME");
        if (!home || !home[0])
            return WL_ENOENT;
        n = snprintf(buf, size, "%s/.cache/wattlens", home);
    }
    return n < 0 || (size_t)n >= size ? WL_ERANGE : 0;
}

int wl_default_model_path(char *buf, size_t size)
{
    char dir[4096];
    int rc = cache_dir(dir, sizeof dir);
    if (rc)
        return rc;
    struct wl_synth_params p;
    wl_default_model_params(&p);
    int n = snprintf(buf, size, "%s/default-llama-v1-L%u-D%u-F%u-H%u-V%u-%s-s%llu.gguf", dir,
                     p.n_layers, p.dim, p.ffn, p.n_heads, p.vocab_size, wl_ttype_name(p.type),
                     (unsigned long long)p.seed);
    return n < 0 || (size_t)n >= size ? WL_ERANGE : 0;
}

/* mkdir -p for the cache directory. */
static int make_dirs(char *path)
{
    for (char *c = path + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        int rc = mkdir(path, 0755);
        *c = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int wl_default_model_ensure(char *buf, size_t size, bool *created, struct wl_errmsg *err)
{
    *created = false;
    int rc = wl_default_model_path(buf, size);
    if (rc)
        return wl_errmsg_set(err, rc,
                             rc == WL_ENOENT ? "no cache directory: set HOME or XDG_CACHE_HOME"
                                             : "cache path too long");
    struct stat st;
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        return 0;
    char dir[4096];
    cache_dir(dir, sizeof dir);
    if (make_dirs(dir) != 0)
        return wl_errmsg_set(err, WL_EIO, "cannot create the cache directory %s: %s", dir,
                             strerror(errno));
    struct wl_synth_params p;
    wl_default_model_params(&p);
    wl_gguf_writer *w = NULL;
    rc = wl_gguf_writer_new(&w);
    if (rc)
        return wl_errmsg_set(err, rc, "out of memory");
    rc = wl_synth_model(&p, w, err);
    if (rc == 0)
        rc = wl_gguf_writer_write(w, buf, err);
    wl_gguf_writer_free(w);
    if (rc == 0)
        *created = true;
    return rc;
}
