/* Helpers shared by the benchmarks; see bench_support.h. */
#include "bench_support.h"

#include "engine/kernels/corelat.h"
#include "engine/model.h"
#include "util/errmsg.h"
#include "util/mkdir_p.h"
#include "util/parse_num.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv (argv[0] a path, or a name without '/' looked up on PATH; no
 * shell, so no argument is split or interpreted) and waits; returns its
 * exit status, -1 when it did not run or did not exit. */
static int run_argv(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

const char *wl_bench_cli_path(void)
{
    const char *cli = getenv("WL_BENCH_CLI");
    return cli && *cli ? cli : WL_CLI_PATH;
}

/* Empty when the model at path loads (header, metadata, every tensor
 * inside the file: what a truncated or foreign file fails), else why not
 * (the loader's message, without the path it starts with) in why (size
 * bytes). */
static void check_loads(const char *path, char *why, size_t size)
{
    wl_model *m = NULL;
    struct wl_errmsg err = {{0}};
    why[0] = '\0';
    if (wl_model_load(path, &m, &err) != 0) {
        const size_t n = strlen(path);
        const char *t =
            strncmp(err.text, path, n) == 0 && err.text[n] == ':' ? err.text + n + 1 : err.text;
        t += strspn(t, " ");
        snprintf(why, size, "%s", t[0] ? t : "it does not load");
    }
    wl_model_free(m);
}

/* The generator version in the cached model's file name: a change of the
 * synth arguments below, or of what `model synth` makes from them, bumps it,
 * so that no model made otherwise is taken for this one. */
#define MODEL_VERSION "v2"

int wl_bench_synth_1b(const char *who, const char *type, char *path, size_t size)
{
    char dir[1024];
    const char *cache = getenv("WL_BENCH_MODEL_CACHE");
    int dn = cache && *cache ? snprintf(dir, sizeof dir, "%s", cache)
                             : snprintf(dir, sizeof dir, "%s/model-cache", WL_BINARY_DIR);
    if (dn < 0 || (size_t)dn >= sizeof dir) { /* never a cut name: another directory */
        fprintf(stderr, "%s: the model cache path is too long (%d bytes, at most %zu): %.64s...\n",
                who, dn, sizeof dir - 1, cache && *cache ? cache : WL_BINARY_DIR);
        return -1;
    }
    struct stat st;
    const char *vocab = WL_TESTDATA_DIR "/vocab/ggml-vocab-llama-spm.gguf";
    const bool have_vocab = stat(vocab, &st) == 0;
    int n = snprintf(path, size, "%s/llama-1.1b-shape-" MODEL_VERSION "-%s-%s.gguf", dir, type,
                     have_vocab ? "spm" : "bytes");
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "%s: the model cache path is too long: %s\n", who, dir);
        return -1;
    }
    char why[1200] = "";
    if (stat(path, &st) == 0) {
        check_loads(path, why, sizeof why);
        if (!why[0])
            return 0;
        fprintf(stderr, "%s: the cached bench model %s is damaged: %s; making it again\n", who,
                path, why);
    }
    if (wl_mkdir_p(dir) != 0) {
        fprintf(stderr, "%s: cannot create the model cache directory %s: %s\n", who, dir,
                strerror(errno));
        return -1;
    }
    /* model synth writes a temporary file next to path and renames it into
     * place (util/outfile.h), and removes it when stopped by a signal: an
     * interrupted or concurrent run leaves no half-written model behind */
    char *argv[] = {(char *)wl_bench_cli_path(),
                    "model",
                    "synth",
                    "--arch",
                    "llama",
                    "--layers",
                    "22",
                    "--dim",
                    "2048",
                    "--ffn",
                    "5632",
                    "--heads",
                    "32",
                    "--kv-heads",
                    "4",
                    have_vocab ? "--vocab-from" : "--vocab",
                    have_vocab ? (char *)vocab : "32000",
                    "--type",
                    (char *)type,
                    "--seed",
                    "1",
                    "-o",
                    path,
                    NULL};
    fprintf(stderr, "%s: generating %s (once; cached)\n", who, path);
    const int rc = run_argv(argv);
    char bad[1300] = "";
    if (rc == 0)
        check_loads(path, bad, sizeof bad);
    else
        snprintf(bad, sizeof bad, "`%s model synth` %s (exit %d)", argv[0],
                 rc < 0 ? "was killed" : "failed", rc);
    if (!bad[0])
        return 0;
    fprintf(stderr,
            "%s: could not generate %s: %s (build the wattlens CLI or point WL_BENCH_CLI at "
            "one of this version; WL_BENCH_MODEL_CACHE at a directory it can write)\n",
            who, path, bad);
    return -1;
}

int wl_bench_mkdtemp(const char *who, const char *prefix, char *buf, size_t size)
{
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    const int n = snprintf(buf, size, "%s/%s-XXXXXX", tmpdir, prefix);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "%s: TMPDIR is too long: %s\n", who, tmpdir);
        return -1;
    }
    if (!mkdtemp(buf)) {
        fprintf(stderr, "%s: cannot create a temporary directory %s: %s (TMPDIR names another)\n",
                who, buf, strerror(errno));
        return -1;
    }
    return 0;
}

void wl_bench_rmtree(const char *who, const char *dir)
{
    char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
    if (run_argv(argv) != 0)
        fprintf(stderr, "%s: could not remove %s\n", who, dir);
}

uint64_t wl_bench_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

float wl_bench_frand(uint64_t *state)
{
    return (float)((wl_bench_xorshift64(state) >> 40) & 0xffff) / 32768.0f - 1.0f;
}

double wl_bench_core_roundtrip_ns(void)
{
    struct wl_corelat_result c;
    if (wl_corelat_measure(20000, 50, &c) != 0 || c.cpu_a < 0 || c.cpu_a == c.cpu_b)
        return -1.0;
    return c.roundtrip_ns;
}

const char *wl_bench_core_probe_text(char *buf, size_t size)
{
    int a, b, n;
    if (wl_corelat_cpus(&a, &b, &n) != 0)
        snprintf(buf, size, "core probe: CPU affinity cannot be read here: no core distance");
    else if (a == b)
        snprintf(buf, size, "core probe: one CPU allowed (CPU %d): no core distance", a);
    else if (n <= 2)
        snprintf(buf, size, "core probe: CPUs %d and %d, the two this process may run on", a, b);
    else
        snprintf(buf, size,
                 "core probe: CPUs %d and %d of %d allowed; the pools are not pinned, so near / "
                 "far is where CPUs %d and %d sat, not necessarily the pools' cores",
                 a, b, n, a, b);
    return buf;
}

const char *wl_bench_share_text(char *buf, size_t size, double fraction)
{
    if (fraction < 0)
        snprintf(buf, size, "unknown");
    else
        snprintf(buf, size, "%.0f %%", 100.0 * fraction);
    return buf;
}

int wl_bench_core_distance(double rt_before_ns, double rt_after_ns)
{
    const double a = rt_before_ns, b = rt_after_ns;
    if (a >= WL_BENCH_FAR_RT_NS && b >= WL_BENCH_FAR_RT_NS)
        return 1;
    if (a >= 0 && b >= 0 && a < WL_BENCH_FAR_RT_NS && b < WL_BENCH_FAR_RT_NS)
        return 0;
    return -1;
}

bool wl_bench_arg_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int wl_bench_usage_error(const char *who, const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%.*s\n(%s --help says more)\n", (int)strcspn(usage, "\n"), usage, who);
    return 2;
}

int wl_bench_args_none(int argc, char **argv, const char *who, const char *usage)
{
    if (argc < 2)
        return -1;
    if (argc == 2 && wl_bench_arg_is_help(argv[1])) {
        fputs(usage, stdout);
        return 0;
    }
    return wl_bench_usage_error(who, usage, "unexpected argument '%s' (it takes none but --help)",
                                wl_bench_arg_is_help(argv[1]) ? argv[2] : argv[1]);
}

bool wl_bench_list_has(const char *list, const char *item)
{
    if (!list)
        return true;
    const size_t n = strlen(item);
    for (const char *p = list;;) {
        const size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, item, n) == 0)
            return true;
        if (!p[len])
            return false;
        p += len + 1;
    }
}

/* The n names as "A, B, C" into all (size bytes, cut when longer). */
static void join_names(const char *const *names, size_t n, char *all, size_t size)
{
    all[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(all + strlen(all), size - strlen(all), "%s%s", i ? ", " : "", names[i]);
}

int wl_bench_check_list(const char *who, const char *usage, const char *what, const char *list,
                        const char *const *names, size_t n)
{
    for (const char *p = list;;) {
        const size_t len = strcspn(p, ",");
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strlen(names[i]) == len && strncasecmp(p, names[i], len) == 0;
        if (!known) {
            char all[256];
            join_names(names, n, all, sizeof all);
            return wl_bench_usage_error(who, usage, "%s: '%.*s' is not one of %s (in '%s')", what,
                                        (int)len, p, all, list);
        }
        if (!p[len])
            return -1;
        p += len + 1;
    }
}

int wl_bench_env_int(const char *who, const char *usage, const char *name, int def, int lo, int hi,
                     int *out)
{
    const char *v = getenv(name);
    *out = def;
    if (!v || !*v)
        return -1;
    /* the one number format a user gives (util/parse_num.h): digits only */
    const char *p = v;
    uint64_t n;
    if (wl_parse_u64_digits(&p, NULL, &n) != 0 || *p != '\0' || n < (uint64_t)lo ||
        n > (uint64_t)hi)
        return wl_bench_usage_error(who, usage, "%s: '%s' is not an integer in %d..%d", name, v, lo,
                                    hi);
    *out = (int)n;
    return -1;
}

int wl_bench_env_choice(const char *who, const char *usage, const char *name,
                        const char *const *names, size_t n, size_t def, size_t *out)
{
    const char *v = getenv(name);
    *out = def;
    if (!v || !*v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            *out = i;
            return -1;
        }
    }
    char all[256];
    join_names(names, n, all, sizeof all);
    return wl_bench_usage_error(who, usage, "%s: '%s' is not one of %s", name, v, all);
}

int wl_bench_env_switch(const char *who, const char *usage, const char *name, bool def, bool *out)
{
    /* the first N_ON names are on */
    static const char *const names[] = {"1", "yes", "true", "0", "no", "false"};
    enum { N_ON = 3 };
    size_t i;
    const int rc = wl_bench_env_choice(who, usage, name, names, sizeof names / sizeof names[0],
                                       def ? 0 : N_ON, &i);
    *out = i < N_ON;
    return rc;
}
