/* The built-in default model; see default_model.h. */
#include "profile/default_model.h"

#include "engine/arch.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "util/mkdir_p.h"
#include "util/utf8.h"
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

/* True when the file at path is the built-in model p describes; else
 * false with the reason in why. The checks cost a few milliseconds (no
 * weight is read): the GGUF is validated whole (every tensor within the
 * file), the shape read from its metadata and every weight bound with its
 * type and shape checked, as the engine loads it. */
static bool is_default_model(const char *path, const struct wl_synth_params *p, char *why,
                             size_t why_size)
{
    struct wl_errmsg e = {{0}};
    wl_gguf *g = NULL;
    if (wl_gguf_open(path, &g, &e) != 0) {
        /* the message names the path, which the caller names already */
        const char *t = strncmp(e.text, path, strlen(path)) == 0 ? e.text + strlen(path) : e.text;
        wl_utf8_clip(why, why_size, t[0] == ':' && t[1] == ' ' ? t + 2 : t);
        return false;
    }
    struct wl_model_features f;
    bool ok = wl_model_features_from_gguf(g, &f, &e) == 0;
    if (!ok)
        wl_utf8_clip(why, why_size, e.text);
    else if (f.arch != p->arch || f.n_layers != p->n_layers || f.hidden_size != p->dim ||
             f.intermediate_size != p->ffn || f.n_heads != p->n_heads ||
             f.n_kv_heads != p->n_kv_heads || f.vocab_size != p->vocab_size ||
             f.context_length != p->context_length || !f.type_tensors[p->type]) {
        ok = false;
        snprintf(why, why_size,
                 "its shape is not the built-in model's (%s, %u layers, dim %u, ffn %u, %u "
                 "heads, %u KV heads, vocabulary %u, context %u)",
                 wl_arch_name(f.arch), f.n_layers, f.hidden_size, f.intermediate_size, f.n_heads,
                 f.n_kv_heads, f.vocab_size, f.context_length);
    }
    wl_model *m = NULL;
    if (ok && wl_model_load_gguf(g, &m, &e) != 0) {
        ok = false;
        wl_utf8_clip(why, why_size, e.text);
    }
    if (m)
        wl_model_free(m); /* owns g now */
    else
        wl_gguf_close(g);
    return ok;
}

int wl_default_model_ensure(char *buf, size_t size, struct wl_default_model_status *status,
                            struct wl_errmsg *err)
{
    memset(status, 0, sizeof *status);
    int rc = wl_default_model_path(buf, size);
    if (rc)
        return wl_errmsg_set(err, rc,
                             rc == WL_ENOENT ? "no cache directory: set HOME or XDG_CACHE_HOME"
                                             : "cache path too long");
    struct wl_synth_params p;
    wl_default_model_params(&p);
    struct stat st;
    if (stat(buf, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return wl_errmsg_set(err, WL_EINVAL,
                                 "%s is not a regular file; remove it and the built-in model is "
                                 "generated there again",
                                 buf);
        if (is_default_model(buf, &p, status->why, sizeof status->why))
            return 0;
        status->replaced = true;
    }
    char dir[4096];
    cache_dir(dir, sizeof dir);
    if (wl_mkdir_p(dir) != 0)
        return wl_errmsg_set(err, WL_EIO, "cannot create the cache directory %s: %s", dir,
                             strerror(errno));
    wl_gguf_writer *w = NULL;
    rc = wl_gguf_writer_new(&w);
    if (rc)
        return wl_errmsg_set(err, rc, "out of memory");
    rc = wl_synth_model(&p, w, err);
    if (rc == 0)
        rc = wl_gguf_writer_write(w, buf, err);
    wl_gguf_writer_free(w);
    if (rc == 0)
        status->created = true;
    return rc;
}
